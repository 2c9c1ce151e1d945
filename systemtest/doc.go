// Package systemtest runs the real rafiki binary as child processes, with
// their own ports, data folders and databases, and checks what an operator
// would see: restarts, crashes, takeovers between workers, and PostgreSQL,
// Redis or NATS going away and coming back. Tests that stop a dependency
// start their own instance of it, never the machine's shared one.
package systemtest
