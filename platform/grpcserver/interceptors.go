package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"
	"unicode"

	"buf.build/go/protovalidate"
	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/laurel-badges/laurel/platform/auth"
)

// recoveryHandler turns a handler panic into codes.Internal. The panic value
// and stack go to the log only: they can hold anything, including secrets.
func recoveryHandler(logger *slog.Logger) func(ctx context.Context, p any) error {
	return func(ctx context.Context, p any) error {
		method, _ := grpc.Method(ctx)
		logger.ErrorContext(ctx, "panic in grpc handler",
			"method", method, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return status.Error(codes.Internal, "internal error")
	}
}

// callInfo collects what inner interceptors learn about a call for the
// request log line written by the outer logging interceptor.
type callInfo struct {
	tenant string
	keyID  string
}

type callInfoKey struct{}

// notePrincipalUnary/Stream run right after authentication and copy the
// caller into the call's callInfo: the logging interceptor, which runs
// outside auth, never sees the context auth creates.
func notePrincipalUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	notePrincipal(ctx)
	return handler(ctx, req)
}

func notePrincipalStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	notePrincipal(ss.Context())
	return handler(srv, ss)
}

func notePrincipal(ctx context.Context) {
	ci, ok := ctx.Value(callInfoKey{}).(*callInfo)
	if !ok {
		return
	}
	if p, ok := auth.FromContext(ctx); ok {
		ci.tenant, ci.keyID = p.Tenant, p.KeyID
	}
}

func logUnary(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ci := &callInfo{}
		ctx = context.WithValue(ctx, callInfoKey{}, ci)
		start := time.Now()
		finished := false
		// Without recover, this deferred call still runs while a panic
		// unwinds, so the call is logged, and the recovery interceptor
		// outside still sees the original stack.
		defer func() {
			if !finished {
				logCall(ctx, logger, info.FullMethod, ci, start, status.Error(codes.Internal, "panic"))
			}
		}()
		resp, err := handler(ctx, req)
		finished = true
		logCall(ctx, logger, info.FullMethod, ci, start, err)
		return resp, err
	}
}

func logStream(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ci := &callInfo{}
		w := middleware.WrapServerStream(ss)
		w.WrappedContext = context.WithValue(ss.Context(), callInfoKey{}, ci)
		start := time.Now()
		finished := false
		defer func() {
			if !finished {
				logCall(w.WrappedContext, logger, info.FullMethod, ci, start, status.Error(codes.Internal, "panic"))
			}
		}()
		err := handler(srv, w)
		finished = true
		logCall(w.WrappedContext, logger, info.FullMethod, ci, start, err)
		return err
	}
}

func logCall(ctx context.Context, logger *slog.Logger, method string, ci *callInfo, start time.Time, err error) {
	st := status.Convert(err)
	level := codeLevel(st.Code())
	if isHealthMethod(method) {
		level = slog.LevelDebug
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("code", st.Code().String()),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	}
	if ci.tenant != "" {
		attrs = append(attrs, slog.String("tenant", ci.tenant), slog.String("key_id", ci.keyID))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", st.Message()))
	}
	// The context carries the span, so the handler adds trace_id.
	logger.LogAttrs(ctx, level, "grpc call", attrs...)
}

// codeLevel logs server faults as errors, overload and deadlines as
// warnings, and client mistakes as info: they are normal traffic.
func codeLevel(c codes.Code) slog.Level {
	switch c {
	case codes.Unknown, codes.Internal, codes.DataLoss, codes.Unimplemented:
		return slog.LevelError
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return slog.LevelWarn
	default:
		return slog.LevelInfo
	}
}

func validateUnary(v protovalidate.Validator, logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := validateMsg(ctx, v, logger, req); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

func validateStream(v protovalidate.Validator, logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, &validatingStream{ServerStream: ss, v: v, logger: logger})
	}
}

// validatingStream validates every message the client sends.
type validatingStream struct {
	grpc.ServerStream
	v      protovalidate.Validator
	logger *slog.Logger
}

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return validateMsg(s.Context(), s.v, s.logger, m)
}

// validateMsg returns InvalidArgument with a google.rpc.BadRequest detail
// holding one FieldViolation per protovalidate violation.
// go-grpc-middleware's protovalidate interceptor attaches buf.validate
// Violations instead, which generic gRPC clients and our problem+json
// mapping do not understand.
func validateMsg(ctx context.Context, v protovalidate.Validator, logger *slog.Logger, m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return nil // not a protobuf message: no rules to check
	}
	err := v.Validate(msg)
	if err == nil {
		return nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		// A rule that does not compile or evaluate is our bug, not the
		// caller's.
		logger.ErrorContext(ctx, "request validation failed to run",
			"message", string(msg.ProtoReflect().Descriptor().FullName()), "error", err)
		return status.Error(codes.Internal, "internal error")
	}
	return InvalidArgument(verr)
}

// InvalidArgument converts a protovalidate error to a codes.InvalidArgument
// status carrying google.rpc.BadRequest field violations: field is the
// proto path ("profile.display_name"), description the rule's message,
// reason the rule id in UPPER_SNAKE_CASE ("STRING_MIN_LEN"). Service code
// can use it for its own checks that produce protovalidate errors.
func InvalidArgument(verr *protovalidate.ValidationError) error {
	br := &errdetails.BadRequest{}
	msgs := make([]string, 0, len(verr.Violations))
	for _, v := range verr.Violations {
		fv := &errdetails.BadRequest_FieldViolation{
			Field:       protovalidate.FieldPathString(v.Proto.GetField()),
			Description: v.Proto.GetMessage(),
			Reason:      upperSnake(v.Proto.GetRuleId()),
		}
		if fv.Description == "" {
			fv.Description = "violates rule " + v.Proto.GetRuleId()
		}
		br.FieldViolations = append(br.FieldViolations, fv)
		if fv.Field != "" {
			msgs = append(msgs, fv.Field+": "+fv.Description)
		} else {
			msgs = append(msgs, fv.Description)
		}
	}
	st := status.New(codes.InvalidArgument, "invalid request: "+strings.Join(msgs, "; "))
	if withDetails, err := st.WithDetails(br); err == nil {
		st = withDetails
	}
	return st.Err()
}

// upperSnake maps a rule id such as "string.min_len" to "STRING_MIN_LEN",
// the form google.rpc.BadRequest.FieldViolation.reason asks for.
func upperSnake(id string) string {
	var b strings.Builder
	for _, r := range id {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToUpper(r))
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
