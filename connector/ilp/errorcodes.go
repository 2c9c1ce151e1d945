package ilp

// ILP error codes with the names RFC 27 gives them. The first letter is
// the class: F final, T temporary, R relative.
const (
	CodeBadRequest                    = "F00"
	CodeInvalidPacket                 = "F01"
	CodeUnreachable                   = "F02"
	CodeInvalidAmount                 = "F03"
	CodeInsufficientDestinationAmount = "F04"
	CodeWrongCondition                = "F05"
	CodeUnexpectedPayment             = "F06"
	CodeCannotReceive                 = "F07"
	CodeAmountTooLarge                = "F08"
	CodeFinalApplicationError         = "F99"
	CodeInternalError                 = "T00"
	CodePeerUnreachable               = "T01"
	CodePeerBusy                      = "T02"
	CodeConnectorBusy                 = "T03"
	CodeInsufficientLiquidity         = "T04"
	CodeRateLimited                   = "T05"
	CodeTemporaryApplicationError     = "T99"
	CodeTransferTimedOut              = "R00"
	CodeInsufficientSourceAmount      = "R01"
	CodeInsufficientTimeout           = "R02"
	CodeRelativeApplicationError      = "R99"
)

// ErrorCode is one row of RFC 27's error code table.
type ErrorCode struct {
	Code string
	Name string
}

var errorCodes = [...]ErrorCode{
	{CodeBadRequest, "Bad Request"},
	{CodeInvalidPacket, "Invalid Packet"},
	{CodeUnreachable, "Unreachable"},
	{CodeInvalidAmount, "Invalid Amount"},
	{CodeInsufficientDestinationAmount, "Insufficient Destination Amount"},
	{CodeWrongCondition, "Wrong Condition"},
	{CodeUnexpectedPayment, "Unexpected Payment"},
	{CodeCannotReceive, "Cannot Receive"},
	{CodeAmountTooLarge, "Amount Too Large"},
	{CodeFinalApplicationError, "Application Error"},
	{CodeInternalError, "Internal Error"},
	{CodePeerUnreachable, "Peer Unreachable"},
	{CodePeerBusy, "Peer Busy"},
	{CodeConnectorBusy, "Connector Busy"},
	{CodeInsufficientLiquidity, "Insufficient Liquidity"},
	{CodeRateLimited, "Rate Limited"},
	{CodeTemporaryApplicationError, "Application Error"},
	{CodeTransferTimedOut, "Transfer Timed Out"},
	{CodeInsufficientSourceAmount, "Insufficient Source Amount"},
	{CodeInsufficientTimeout, "Insufficient Timeout"},
	{CodeRelativeApplicationError, "Application Error"},
}

// ErrorCodes returns RFC 27's error code table, in its order.
func ErrorCodes() []ErrorCode { return append([]ErrorCode(nil), errorCodes[:]...) }

// LookupErrorCode returns the table row of code.
func LookupErrorCode(code string) (ErrorCode, bool) {
	for _, e := range errorCodes {
		if e.Code == code {
			return e, true
		}
	}
	return ErrorCode{}, false
}

// internCode returns the table's string for a known code, so that
// decoding a Reject does not allocate one.
func internCode(b []byte) string {
	for _, e := range errorCodes {
		if e.Code == string(b) {
			return e.Code
		}
	}
	return string(b)
}
