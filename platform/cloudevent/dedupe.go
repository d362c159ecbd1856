package cloudevent

// DedupeID is the identity of an activity event for deduplication: CloudEvents makes
// (source, id) unique, not id alone, so two apps that both number their events from 1
// never drop each other's events. Publishers set Nats-Msg-Id to this value, and the rules
// engine keys its dedupe records on it. The separator cannot occur in a URI-reference
// source, so distinct pairs never collide.
func DedupeID(source, id string) string { return source + " " + id }
