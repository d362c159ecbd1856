// Interop driver: reads one JSON request on stdin, writes one JSON answer on
// stdout. Commands:
//   canonize: {"documents": [...], "contexts": {url: doc}} ->
//             {"results": [{"nquads": "..."} | {"error": "..."}]}
//   sign:     {"credential": {...}, "seedHex": "...", "created": "..."} ->
//             {"credential": {...}} (DataIntegrityProof, eddsa-rdfc-2022, did:key)
//   verify:   {"credentials": [...], "documents": {url: doc}} ->
//             {"results": [{"verified": bool, "error": "..."}]} (documents, such as
//             DID documents, are served by the loader; optional)
import * as vc from '@digitalbazaar/vc';
import jsonld from 'jsonld';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {documentLoader, addDocument} from './loader.mjs';

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function errorText(e) {
  if(!e) {
    return 'unknown error';
  }
  const parts = [e.message || String(e)];
  if(e.details && e.details.event) {
    parts.push(JSON.stringify(e.details.event));
  }
  if(e.cause) {
    parts.push(errorText(e.cause));
  }
  if(Array.isArray(e.errors)) {
    parts.push(...e.errors.map(errorText));
  }
  return parts.join(': ');
}

async function canonize({documents, contexts = {}}) {
  for(const [url, doc] of Object.entries(contexts)) {
    addDocument(url, doc);
  }
  const results = [];
  for(const doc of documents) {
    try {
      const nquads = await jsonld.canonize(doc, {
        algorithm: 'RDFC-1.0',
        format: 'application/n-quads',
        documentLoader,
        safe: true
      });
      results.push({nquads});
    } catch(e) {
      results.push({error: errorText(e)});
    }
  }
  return {results};
}

async function sign({credential, seedHex, created}) {
  const seed = Uint8Array.from(Buffer.from(seedHex, 'hex'));
  const key = await Ed25519Multikey.generate({seed});
  const did = `did:key:${key.publicKeyMultibase}`;
  key.id = `${did}#${key.publicKeyMultibase}`;
  key.controller = did;
  credential.issuer = typeof credential.issuer === 'object' ?
    {...credential.issuer, id: did} : did;
  const suite = new DataIntegrityProof({
    signer: key.signer(), cryptosuite: eddsaRdfc2022CryptoSuite, date: created
  });
  const signed = await vc.issue({credential, suite, documentLoader});
  return {credential: signed};
}

async function verify({credentials, documents = {}}) {
  for(const [url, doc] of Object.entries(documents)) {
    addDocument(url, doc);
  }
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
  const results = [];
  for(const credential of credentials) {
    try {
      // Status lists are not what these tests exercise (and would need
      // the network); the proof is.
      const result = await vc.verifyCredential({
        credential, suite, documentLoader, checkStatus: async () => ({verified: true})
      });
      results.push(result.verified ? {verified: true} :
        {verified: false, error: errorText(result.error)});
    } catch(e) {
      results.push({verified: false, error: errorText(e)});
    }
  }
  return {results};
}

const commands = {canonize, sign, verify};
const command = commands[process.argv[2]];
if(!command) {
  process.stderr.write(`usage: node proof.mjs ${Object.keys(commands).join('|')} < request.json\n`);
  process.exit(2);
}
try {
  process.stdout.write(JSON.stringify(await command(await readStdin())));
} catch(e) {
  process.stderr.write(errorText(e) + '\n');
  process.exit(1);
}
