package postgres

// Consistent lets the package's external tests check what the contract
// cannot see (wantTotalsMatchTransfers).
var Consistent = wantTotalsMatchTransfers
