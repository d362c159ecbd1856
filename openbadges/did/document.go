package did

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/mr-tron/base58"

	"github.com/laurel-badges/laurel/openbadges/multikey"
)

// ControllerDocument is a parsed DID document or other controller document
// (an Open Badges issuer profile listing its keys, for instance).
type ControllerDocument struct {
	ID string
	// Methods holds every verification method the document defines, by
	// absolute id, with Purposes filled from its relationship lists.
	Methods map[string]*VerificationMethod
	// references: ids listed under each relationship, including methods
	// defined elsewhere (a controller may authorize a key document hosted
	// at another URL).
	references map[string][]string
}

// Authorizes reports whether the document lists the method id under the
// relationship purpose, by reference or embedded.
func (d *ControllerDocument) Authorizes(id, purpose string) bool {
	for _, ref := range d.references[purpose] {
		if ref == id {
			return true
		}
	}
	return false
}

// purposesOf lists the relationships under which the document lists id.
func (d *ControllerDocument) purposesOf(id string) []string {
	purposes := []string{}
	for _, rel := range relationships {
		if d.Authorizes(id, rel) {
			purposes = append(purposes, rel)
		}
	}
	return purposes
}

// ParseControllerDocument parses a controller document whose identifier is
// id (relative method ids such as "#key-1" are resolved against it). A
// document that states a different "id" is refused: whoever serves it
// cannot speak for id.
func ParseControllerDocument(id string, data []byte) (*ControllerDocument, error) {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("did: parse controller document %s: %w", id, err)
	}
	return controllerFromMap(id, raw)
}

func controllerFromMap(id string, raw map[string]any) (*ControllerDocument, error) {
	if stated, _ := raw["id"].(string); stated != id {
		return nil, fmt.Errorf("did: controller document fetched for %s states id %q", id, stated)
	}
	doc := &ControllerDocument{ID: id, Methods: map[string]*VerificationMethod{}, references: map[string][]string{}}
	add := func(obj map[string]any) error {
		vm, err := methodFromMap(id, obj)
		if err != nil {
			return err
		}
		doc.Methods[vm.ID] = vm
		return nil
	}
	for _, item := range asList(raw["verificationMethod"]) {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, errors.New("did: verificationMethod entries must be objects")
		}
		if err := add(obj); err != nil {
			return nil, err
		}
	}
	for _, rel := range relationships {
		for _, item := range asList(raw[rel]) {
			switch v := item.(type) {
			case string:
				doc.references[rel] = append(doc.references[rel], absolute(id, v))
			case map[string]any:
				if err := add(v); err != nil {
					return nil, err
				}
				ref, _ := v["id"].(string)
				doc.references[rel] = append(doc.references[rel], absolute(id, ref))
			}
		}
	}
	for vmID, vm := range doc.Methods {
		vm.Purposes = doc.purposesOf(vmID)
	}
	return doc, nil
}

// methodFromMap reads one verification method object.
func methodFromMap(base string, obj map[string]any) (*VerificationMethod, error) {
	rawID, _ := obj["id"].(string)
	if rawID == "" {
		return nil, errors.New("did: verification method without id")
	}
	vm := &VerificationMethod{ID: absolute(base, rawID)}
	vm.Type, _ = obj["type"].(string)
	vm.Controller, _ = obj["controller"].(string)
	if vm.Controller == "" {
		vm.Controller = base
	}
	key, err := publicKeyOf(obj)
	if err != nil {
		return nil, fmt.Errorf("did: verification method %s: %w", vm.ID, err)
	}
	vm.PublicKey = key
	return vm, nil
}

// publicKeyOf extracts the key from publicKeyMultibase, publicKeyJwk or
// (Ed25519VerificationKey2018) publicKeyBase58.
func publicKeyOf(obj map[string]any) (any, error) {
	if mb, ok := obj["publicKeyMultibase"].(string); ok {
		return multikey.DecodePublicKey(mb)
	}
	if jwk, ok := obj["publicKeyJwk"]; ok {
		b, err := json.Marshal(jwk)
		if err != nil {
			return nil, err
		}
		return ParseJWK(b)
	}
	if b58, ok := obj["publicKeyBase58"].(string); ok {
		raw, err := base58.Decode(b58)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, errors.New("publicKeyBase58 is not an Ed25519 public key")
		}
		return ed25519.PublicKey(raw), nil
	}
	return nil, fmt.Errorf("%w: no publicKeyMultibase, publicKeyJwk or publicKeyBase58", ErrUnsupported)
}

// ParseJWK parses a public JWK into an ed25519.PublicKey, *rsa.PublicKey or
// *ecdsa.PublicKey. A JWK carrying private key material is refused: it
// must never have been published.
func ParseJWK(data []byte) (any, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("did: parse JWK: %w", err)
	}
	if !jwk.IsPublic() {
		return nil, errors.New("did: JWK contains private key material")
	}
	switch k := jwk.Key.(type) {
	case ed25519.PublicKey, *rsa.PublicKey, *ecdsa.PublicKey:
		return k, nil
	default:
		return nil, fmt.Errorf("%w: JWK key type %T", ErrUnsupported, jwk.Key)
	}
}

func absolute(base, ref string) string {
	if strings.HasPrefix(ref, "#") {
		b, _ := splitFragment(base)
		return b + ref
	}
	return ref
}

func asList(v any) []any {
	switch t := v.(type) {
	case nil:
		return nil
	case []any:
		return t
	default:
		return []any{t}
	}
}
