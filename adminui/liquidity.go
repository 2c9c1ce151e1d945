package adminui

import (
	"errors"
	"fmt"
)

// errNotFound is an object a form names that the API does not know.
var errNotFound = errors.New("not found")

// moveLiquidity deposits or withdraws the amount typed in the form on an
// asset's or a peer's liquidity. A withdrawal is posted at once
// (timeoutSeconds 0), as Rafiki's admin UI does.
func (rq *request) moveLiquidity(deposit bool, owner, idField, id string, scale int) error {
	amount, err := parseAmount(rq.field("amount"), scale)
	if err != nil {
		return fmt.Errorf("Amount: %w", err)
	}
	transferID, err := rq.transferID()
	if err != nil {
		return err
	}
	input := map[string]any{idField: id, "amount": amount, "id": transferID, "idempotencyKey": transferID}
	mutation, inputType := "deposit"+owner+"Liquidity", "Deposit"+owner+"LiquidityInput"
	if !deposit {
		mutation, inputType = "create"+owner+"LiquidityWithdrawal", "Create"+owner+"LiquidityWithdrawalInput"
		input["timeoutSeconds"] = "0"
	}
	var out map[string]struct {
		Success bool `json:"success"`
	}
	q := fmt.Sprintf(`mutation($input: %s!) { %s(input: $input) { success } }`, inputType, mutation)
	if err := rq.gql(q, map[string]any{"input": input}, &out); err != nil {
		return errors.New(rq.ui.problem(err))
	}
	if !out[mutation].Success {
		return fmt.Errorf("the admin API did not move the liquidity")
	}
	return nil
}

func doneKey(deposit bool) string {
	if deposit {
		return "deposited"
	}
	return "withdrawn"
}
