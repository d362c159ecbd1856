// Validates JSON documents against an Open Badges 3.0 JSON Schema with ajv, an independent
// JSON Schema implementation, offline.
//
// usage: node validate.mjs <schema.json> <doc.json>...
// Prints one JSON line per document: {"file", "valid", "errors": [{"path", "message"}]}.
// Exits non-zero only when it cannot run (bad schema, unreadable file).
import { readFileSync } from "node:fs";
import Ajv2019 from "ajv/dist/2019.js";
import addFormats from "ajv-formats";

const [schemaPath, ...docs] = process.argv.slice(2);
if (!schemaPath || docs.length === 0) {
  console.error("usage: node validate.mjs <schema.json> <doc.json>...");
  process.exit(2);
}

// strict: false because the official schemas carry "$comment"-style annotations and tuple
// "items" that ajv's strict mode flags; validation itself is unaffected.
const ajv = new Ajv2019({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(schemaPath, "utf8")));

for (const file of docs) {
  const doc = JSON.parse(readFileSync(file, "utf8"));
  const valid = validate(doc);
  const errors = (validate.errors ?? []).map((e) => ({ path: e.instancePath, message: e.message }));
  console.log(JSON.stringify({ file, valid, errors }));
}
