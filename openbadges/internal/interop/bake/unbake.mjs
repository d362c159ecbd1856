// Reads baked badge images with independent decoders, offline: PNG chunks with
// png-chunks-extract (CRC-checked) and png-chunk-itxt, the whole PNG with pngjs (so the image
// still decodes), SVG with @xmldom/xmldom.
//
// usage: node unbake.mjs <image>...
// Prints one JSON line per image: {"file", "format", "width", "height", "baked": [{"keyword" or
// "element", "text", "verify"}]}. Exits non-zero when an image cannot be read.
import { readFileSync } from "node:fs";
import extractChunks from "png-chunks-extract";
import * as itxt from "png-chunk-itxt";
import pngjs from "pngjs";
import { DOMParser } from "@xmldom/xmldom";

const NS = { "https://purl.imsglobal.org/ob/v3p0": "credential", "http://openbadges.org": "assertion" };
const KEYWORDS = new Set(["openbadgecredential", "openbadges"]);

function readPNG(file, data) {
  const { width, height } = pngjs.PNG.sync.read(data);
  const baked = [];
  for (const chunk of extractChunks(data)) {
    if (chunk.name !== "iTXt") continue;
    const c = itxt.decodeSync(chunk.data);
    if (KEYWORDS.has(c.keyword)) {
      baked.push({ keyword: c.keyword, compressed: c.compressionFlag, text: c.text });
    }
  }
  return { file, format: "PNG", width, height, baked };
}

function readSVG(file, data) {
  const problems = [];
  const doc = new DOMParser({
    onError: (level, msg) => problems.push(`${level}: ${msg}`),
  }).parseFromString(data.toString("utf8"), "image/svg+xml");
  if (problems.length > 0) throw new Error(`${file}: ${problems.join("; ")}`);
  const baked = [];
  for (const [ns, local] of Object.entries(NS)) {
    const els = doc.getElementsByTagNameNS(ns, local);
    for (let i = 0; i < els.length; i++) {
      const el = els[i];
      baked.push({ element: `{${ns}}${local}`, text: el.textContent.trim(), verify: el.getAttribute("verify") ?? "" });
    }
  }
  return { file, format: "SVG", baked };
}

for (const file of process.argv.slice(2)) {
  const data = readFileSync(file);
  const out = data[0] === 0x89 ? readPNG(file, data) : readSVG(file, data);
  console.log(JSON.stringify(out));
}
