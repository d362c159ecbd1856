package grpcserver

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ProblemContentType is the media type of HTTP error bodies (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is the body of every HTTP error the gateway returns (RFC 9457
// problem details, with Laurel's extension members code and violations).
type Problem struct {
	// Type is "about:blank": the HTTP status and Code say what happened.
	Type   string `json:"type"`
	Title  string `json:"title"`  // HTTP status text
	Status int    `json:"status"` // HTTP status code
	Detail string `json:"detail,omitempty"`
	// Code is the gRPC status code name, e.g. "INVALID_ARGUMENT".
	Code string `json:"code"`
	// Violations lists field errors of an INVALID_ARGUMENT.
	Violations []ProblemViolation `json:"violations,omitempty"`
}

// ProblemViolation is one bad field of a request.
type ProblemViolation struct {
	Field       string `json:"field"` // proto path, e.g. "profile.display_name"
	Description string `json:"description"`
}

// problemErrorHandler renders gateway errors as problem+json, mapping gRPC
// codes to HTTP statuses as grpc-gateway does.
func problemErrorHandler(logger *slog.Logger) runtime.ErrorHandlerFunc {
	return func(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
		httpStatus := 0
		var herr *runtime.HTTPStatusError // routing errors: 404, 405
		if errors.As(err, &herr) {
			httpStatus = herr.HTTPStatus
			err = herr.Err
		}
		st := status.Convert(err)
		if httpStatus == 0 {
			httpStatus = runtime.HTTPStatusFromCode(st.Code())
		}
		p := Problem{
			Type:   "about:blank",
			Title:  http.StatusText(httpStatus),
			Status: httpStatus,
			Detail: st.Message(),
			Code:   code.Code(st.Code()).String(),
		}
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, fv := range br.GetFieldViolations() {
					p.Violations = append(p.Violations, ProblemViolation{Field: fv.GetField(), Description: fv.GetDescription()})
				}
			}
		}

		h := w.Header()
		h.Del("Trailer")
		h.Del("Transfer-Encoding")
		h.Set("Content-Type", ProblemContentType)
		h.Set("X-Content-Type-Options", "nosniff")
		if st.Code() == codes.Unauthenticated {
			h.Set("WWW-Authenticate", `Bearer realm="laurel"`)
		}
		w.WriteHeader(httpStatus)
		if r.Method == http.MethodHead {
			return
		}
		if err := json.NewEncoder(w).Encode(p); err != nil {
			logger.DebugContext(ctx, "write problem response", "error", err)
		}
	}
}
