package grpcserver

import (
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FieldViolation is one invalid request field found by a service's own checks (the ones
// protovalidate rules cannot express), named by its request path.
type FieldViolation struct {
	Field       string
	Description string
}

// InvalidFields returns a codes.InvalidArgument status whose google.rpc.BadRequest details
// list every violation, in the same shape as the protovalidate interceptor's errors, so a
// client handles both alike.
func InvalidFields(violations ...FieldViolation) error {
	br := &errdetails.BadRequest{}
	msgs := make([]string, 0, len(violations))
	for _, v := range violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field: v.Field, Description: v.Description,
		})
		msgs = append(msgs, v.Field+": "+v.Description)
	}
	st := status.New(codes.InvalidArgument, "invalid request: "+strings.Join(msgs, "; "))
	if withDetails, err := st.WithDetails(br); err == nil {
		st = withDetails
	}
	return st.Err()
}
