// Package systemtest runs the real rafiki binary as child processes, with
// their own ports, data folders and databases, and checks what an operator
// would see: restarts, crashes, takeovers between workers, and PostgreSQL,
// Redis or NATS going away and coming back. Tests that stop a dependency
// start their own instance of it, never the machine's shared one.
//
// Each test's process output goes to a folder under the system's temporary
// folder, which is kept (and named in the test log) when the test fails,
// or always when SYSTEMTEST_KEEP is set. A process that stops answering is
// made to print its goroutines there (SIGQUIT) before the test fails.
package systemtest
