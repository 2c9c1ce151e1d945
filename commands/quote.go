package commands

// CreateQuote asks what paying Receiver (an incoming payment's URL) from a
// wallet address costs and delivers: a fixed debit (DebitAmount, in the
// wallet address's asset), a fixed delivery (ReceiveAmount, in the
// receiver's asset), or, with neither, what the receiver still expects.
type CreateQuote struct {
	Meta
	WalletAddressID string
	Receiver        string
	DebitAmount     *Amount
	ReceiveAmount   *Amount
	// Client is the GNAP client that asked through Open Payments; ClientKey
	// the thumbprint of the key of one known by its key alone.
	Client    string
	ClientKey string
}
