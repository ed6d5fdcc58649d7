// Times sharp making 256x256 JPEG q80 thumbnails from in-memory bytes, one thread.
// node thumbnails_sharp.js FILE... -> one JSON line like thumbnails_peers.py.
// THUMB_FORMAT=avif and THUMB_SIZE=N as for the thumbnailer's bench example.
const fs = require("fs");
const sharp = require("sharp");
sharp.concurrency(1);
sharp.cache(false);

const side = Number(process.env.THUMB_SIZE || 256);
const avif = process.env.THUMB_FORMAT === "avif";

async function thumbnail(data) {
  const resized = sharp(data, { pages: 1 })
    .rotate()
    .resize(side, side, { fit: "inside", withoutEnlargement: true })
    .flatten({ background: "#ffffff" });
  return (avif ? resized.avif({ quality: 80 }) : resized.jpeg({ quality: 80 })).toBuffer();
}

(async () => {
  const results = [];
  for (const file of process.argv.slice(2)) {
    const data = fs.readFileSync(file);
    await thumbnail(data);
    const start = process.hrtime.bigint();
    const out = await thumbnail(data);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const { width, height } = await sharp(data).metadata();
    results.push({ file, ms, mp: (width * height) / 1e6, bytes: out.length });
  }
  console.log(JSON.stringify({ peer: "sharp", results, peak_rss_kib: process.resourceUsage().maxRSS }));
})();
