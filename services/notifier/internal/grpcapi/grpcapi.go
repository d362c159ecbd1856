// Package grpcapi is the notifier's inbound gRPC adapter: it maps
// laurel.notifier.v1.NotifierService requests onto the delivery core, scopes each call to
// the tenant of the caller's API key, and translates core errors into statuses in one place.
package grpcapi

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
	"github.com/laurel-badges/laurel/services/notifier/internal/delivery"
	"github.com/laurel-badges/laurel/services/notifier/internal/email"
)

const (
	subscriptionPrefix = "subscriptions/"
	defaultPageSize    = 50
)

// Server implements notifierv1.NotifierServiceServer. Requests are validated by the
// server's protovalidate interceptor before they get here. Safe for concurrent use.
type Server struct {
	notifierv1.UnimplementedNotifierServiceServer
	subs       *delivery.Manager
	dispatcher *delivery.Dispatcher
	mail       *email.Service
	logger     *slog.Logger
}

var _ notifierv1.NotifierServiceServer = (*Server)(nil)

// New returns the gRPC adapter over the subscription manager, the dispatcher (which sends
// test events) and the e-mail service.
func New(subs *delivery.Manager, dispatcher *delivery.Dispatcher, mail *email.Service, logger *slog.Logger) *Server {
	return &Server{subs: subs, dispatcher: dispatcher, mail: mail, logger: logger}
}

// CreateSubscription implements notifierv1.NotifierServiceServer.
func (s *Server) CreateSubscription(ctx context.Context, req *notifierv1.CreateSubscriptionRequest) (*notifierv1.CreateSubscriptionResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetSubscription()
	sub, secret, err := s.subs.Create(ctx, tenant, delivery.CreateInput{
		URL: in.GetUrl(), EventTypes: in.GetEventTypes(), AchievementIDs: in.GetAchievementIds(),
		Description: in.GetDescription(), RequestID: strings.ToLower(req.GetRequestId()),
	})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &notifierv1.CreateSubscriptionResponse{Subscription: toProto(sub), SigningSecret: secret}, nil
}

// GetSubscription implements notifierv1.NotifierServiceServer.
func (s *Server) GetSubscription(ctx context.Context, req *notifierv1.GetSubscriptionRequest) (*notifierv1.GetSubscriptionResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	sub, err := s.subs.Get(ctx, tenant, strings.TrimPrefix(req.GetName(), subscriptionPrefix))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &notifierv1.GetSubscriptionResponse{Subscription: toProto(sub)}, nil
}

// ListSubscriptions implements notifierv1.NotifierServiceServer. The page token is the
// last id of the previous page (opaque to clients).
func (s *Server) ListSubscriptions(ctx context.Context, req *notifierv1.ListSubscriptionsRequest) (*notifierv1.ListSubscriptionsResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	after, size, err := pageOf(req)
	if err != nil {
		return nil, err
	}
	subs, next, err := s.subs.List(ctx, tenant, after, size)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &notifierv1.ListSubscriptionsResponse{}
	for _, sub := range subs {
		resp.Subscriptions = append(resp.Subscriptions, toProto(sub))
	}
	resp.NextPageToken = pageToken(next)
	return resp, nil
}

// DeleteSubscription implements notifierv1.NotifierServiceServer.
func (s *Server) DeleteSubscription(ctx context.Context, req *notifierv1.DeleteSubscriptionRequest) (*notifierv1.DeleteSubscriptionResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.subs.Delete(ctx, tenant, strings.TrimPrefix(req.GetName(), subscriptionPrefix)); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &notifierv1.DeleteSubscriptionResponse{}, nil
}

// RotateSecret implements notifierv1.NotifierServiceServer.
func (s *Server) RotateSecret(ctx context.Context, req *notifierv1.RotateSecretRequest) (*notifierv1.RotateSecretResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	var overlap *time.Duration
	if req.GetOverlap() != nil {
		d := req.GetOverlap().AsDuration()
		overlap = &d
	}
	sub, secret, err := s.subs.RotateSecret(ctx, tenant, strings.TrimPrefix(req.GetName(), subscriptionPrefix), req.GetNewSecret(), overlap)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &notifierv1.RotateSecretResponse{Subscription: toProto(sub), SigningSecret: secret}, nil
}

// SendTestEvent implements notifierv1.NotifierServiceServer.
func (s *Server) SendTestEvent(ctx context.Context, req *notifierv1.SendTestEventRequest) (*notifierv1.SendTestEventResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	res, err := s.dispatcher.SendTest(ctx, tenant, strings.TrimPrefix(req.GetName(), subscriptionPrefix))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &notifierv1.SendTestEventResponse{WebhookId: res.WebhookID, StatusCode: int32(res.Code), Error: res.Error, LatencyMs: res.Latency.Milliseconds()}, nil
}

// ReplayDelivery implements notifierv1.NotifierServiceServer.
func (s *Server) ReplayDelivery(ctx context.Context, req *notifierv1.ReplayDeliveryRequest) (*notifierv1.ReplayDeliveryResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(req.GetName(), "/")
	if len(parts) != 4 {
		return nil, status.Error(codes.NotFound, "not found")
	}
	r, err := s.subs.ReplayDelivery(ctx, tenant, parts[1], parts[3])
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &notifierv1.ReplayDeliveryResponse{Delivery: deliveryToProto(r)}, nil
}

// ReplayDeliveries implements notifierv1.NotifierServiceServer.
func (s *Server) ReplayDeliveries(ctx context.Context, req *notifierv1.ReplayDeliveriesRequest) (*notifierv1.ReplayDeliveriesResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetStartTime() == nil {
		return nil, grpcserver.InvalidFields(grpcserver.FieldViolation{Field: "start_time", Description: "is required"})
	}
	end := time.Now()
	if req.GetEndTime() != nil {
		end = req.GetEndTime().AsTime()
	}
	recs, err := s.subs.ReplayDeliveries(ctx, tenant, strings.TrimPrefix(req.GetParent(), subscriptionPrefix), req.GetStartTime().AsTime(), end)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &notifierv1.ReplayDeliveriesResponse{}
	for _, r := range recs {
		resp.Deliveries = append(resp.Deliveries, deliveryToProto(r))
	}
	return resp, nil
}

// ListDeliveries implements notifierv1.NotifierServiceServer. The page token is the last
// webhook id of the previous page (opaque to clients).
func (s *Server) ListDeliveries(ctx context.Context, req *notifierv1.ListDeliveriesRequest) (*notifierv1.ListDeliveriesResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	after, size, err := pageOf(req)
	if err != nil {
		return nil, err
	}
	subID := strings.TrimPrefix(req.GetParent(), subscriptionPrefix)
	recs, next, err := s.subs.ListDeliveries(ctx, tenant, subID, after, size)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &notifierv1.ListDeliveriesResponse{}
	for _, r := range recs {
		resp.Deliveries = append(resp.Deliveries, deliveryToProto(r))
	}
	resp.NextPageToken = pageToken(next)
	return resp, nil
}

// GetDelivery implements notifierv1.NotifierServiceServer.
func (s *Server) GetDelivery(ctx context.Context, req *notifierv1.GetDeliveryRequest) (*notifierv1.GetDeliveryResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	// The request pattern guarantees "subscriptions/{id}/deliveries/{webhook_id}".
	parts := strings.Split(req.GetName(), "/")
	if len(parts) != 4 {
		return nil, status.Error(codes.NotFound, "not found")
	}
	r, err := s.subs.GetDelivery(ctx, tenant, parts[1], parts[3])
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &notifierv1.GetDeliveryResponse{Delivery: deliveryToProto(r)}, nil
}

func deliveryToProto(r delivery.Record) *notifierv1.Delivery {
	d := &notifierv1.Delivery{
		Name:           subscriptionPrefix + r.SubscriptionID + "/deliveries/" + r.WebhookID,
		WebhookId:      r.WebhookID,
		EventId:        r.EventID,
		EventType:      r.EventType,
		State:          deliveryStates[r.Status],
		Attempts:       int32(r.Attempts),
		LastStatusCode: int32(r.LastCode),
		LastError:      r.LastError,
		LastLatencyMs:  r.LastLatency.Milliseconds(),
		CreateTime:     timestamppb.New(r.CreateTime),
		UpdateTime:     timestamppb.New(r.UpdateTime),
		Replays:        int32(r.Replays),
	}
	for _, a := range r.History {
		d.History = append(d.History, &notifierv1.DeliveryAttempt{
			Time: timestamppb.New(a.Time), StatusCode: int32(a.Code), Error: a.Error, LatencyMs: a.Latency.Milliseconds(),
		})
	}
	if r.Status == delivery.StatusPending && !r.NextAttempt.IsZero() {
		d.NextAttemptTime = timestamppb.New(r.NextAttempt)
	}
	return d
}

var deliveryStates = map[delivery.Status]notifierv1.Delivery_State{
	delivery.StatusPending:   notifierv1.Delivery_STATE_PENDING,
	delivery.StatusDelivered: notifierv1.Delivery_STATE_DELIVERED,
	delivery.StatusDead:      notifierv1.Delivery_STATE_DEAD,
}

// tenantOf is the only source of a request's tenant: the authenticated key.
func tenantOf(ctx context.Context) (string, error) {
	p, ok := auth.FromContext(ctx)
	if !ok || p.Tenant == "" {
		return "", status.Error(codes.Unauthenticated, "missing API key")
	}
	return p.Tenant, nil
}

// toStatus maps core errors to statuses; anything unexpected is logged and reported as
// Internal without its text, which may name storage internals.
func (s *Server) toStatus(ctx context.Context, err error) error {
	var verr *delivery.ValidationError
	var everr *email.ValidationError
	switch {
	case errors.As(err, &verr):
		fields := make([]grpcserver.FieldViolation, len(verr.Violations))
		for i, v := range verr.Violations {
			fields[i] = grpcserver.FieldViolation{Field: v.Field, Description: v.Description}
		}
		return grpcserver.InvalidFields(fields...)
	case errors.As(err, &everr):
		fields := make([]grpcserver.FieldViolation, len(everr.Violations))
		for i, v := range everr.Violations {
			fields[i] = grpcserver.FieldViolation{Field: "template." + v.Field, Description: v.Description}
		}
		return grpcserver.InvalidFields(fields...)
	case errors.Is(err, delivery.ErrNotFound), errors.Is(err, email.ErrNotFound):
		return status.Error(codes.NotFound, "not found")
	case errors.Is(err, delivery.ErrRequestMismatch):
		return status.Error(codes.AlreadyExists, "request_id was already used for a different request")
	case errors.Is(err, delivery.ErrExists):
		return status.Error(codes.AlreadyExists, "already exists")
	case errors.Is(err, delivery.ErrNotReplayable):
		return status.Error(codes.FailedPrecondition, "the delivery cannot be replayed: its subscription is disabled or its event predates the replay log")
	case errors.Is(err, delivery.ErrConflict), errors.Is(err, email.ErrConflict):
		return status.Error(codes.Aborted, "the resource changed concurrently: retry")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	default:
		s.logger.ErrorContext(ctx, "notifier request failed", "error", err)
		return status.Error(codes.Internal, "internal error")
	}
}

func toProto(s delivery.Subscription) *notifierv1.Subscription {
	out := &notifierv1.Subscription{
		Name:           subscriptionPrefix + s.ID,
		Url:            s.URL,
		EventTypes:     s.EventTypes,
		AchievementIds: s.AchievementIDs,
		Active:         s.Active,
		Description:    s.Description,
		CreateTime:     timestamppb.New(s.CreateTime),
		UpdateTime:     timestamppb.New(s.UpdateTime),
	}
	if len(s.PreviousSecret) > 0 && time.Now().Before(s.PreviousUntil) {
		out.PreviousSecretExpireTime = timestamppb.New(s.PreviousUntil)
	}
	return out
}

// pageRequest is what every list request has.
type pageRequest interface {
	GetPageToken() string
	GetPageSize() int32
}

// pageOf decodes a list request's page token (the last id of the previous page, opaque to
// clients) and size.
func pageOf(req pageRequest) (after string, size int, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(req.GetPageToken())
	if err != nil {
		return "", 0, grpcserver.InvalidFields(grpcserver.FieldViolation{Field: "page_token", Description: "is not a token this server issued"})
	}
	size = int(req.GetPageSize())
	if size == 0 {
		size = defaultPageSize
	}
	return string(raw), size, nil
}

// pageToken encodes the last id of a page as the next page's token; "" ends the list.
func pageToken(next string) string {
	if next == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(next))
}
