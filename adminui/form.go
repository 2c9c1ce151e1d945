package adminui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// field reads a trimmed form value.
func (rq *request) field(name string) string { return strings.TrimSpace(rq.r.PostFormValue(name)) }

// optionalAmount reads a decimal amount at scale into the smallest unit;
// nil when the field is empty.
func (rq *request) optionalAmount(name, label string, scale int) (*string, error) {
	text := rq.field(name)
	if text == "" {
		return nil, nil
	}
	v, err := parseAmount(text, scale)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	return &v, nil
}

// optionalString is nil for an empty field.
func (rq *request) optionalString(name string) *string {
	v := rq.field(name)
	if v == "" {
		return nil
	}
	return &v
}

// transferID is the id a liquidity form was rendered with. It is both the
// transfer id and the idempotency key, so that a form posted twice (a
// double click, a resubmission) moves money once.
func (rq *request) transferID() (string, error) {
	id := rq.field("transferId")
	if _, err := uuid.Parse(id); err != nil {
		return "", fmt.Errorf("the form has no valid transfer id: reload the page")
	}
	return id, nil
}

// newTransferID is a fresh transfer id for a liquidity form.
func newTransferID() string { return uuid.NewString() }

// scaleOf reads an asset scale typed in a form.
func scaleOf(text string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(text))
	if err != nil || n < 0 || n > 255 {
		return 0, fmt.Errorf("scale: %q is not a whole number from 0 to 255", text)
	}
	return n, nil
}

// confirmed tells whether a deletion's form had its box ticked: a
// deletion is never one stray click.
func (rq *request) confirmed() bool { return rq.r.PostFormValue("confirm") == "yes" }

// notConfirmed is the message for a deletion without its box ticked.
const notConfirmed = "Tick the box to confirm the deletion."
