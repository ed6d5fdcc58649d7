// Times sharp making 256x256 JPEG q80 thumbnails from in-memory bytes, one thread.
// node thumbnails_sharp.js FILE... -> one JSON line like thumbnails_peers.py.
// THUMB_FORMAT=avif and THUMB_SIZE=N as for the thumbnailer's bench example (several sides,
// 256,1024: the largest from the file, each smaller one resized from the larger one's raw
// pixels, sharp's best way to make several sizes); each file's time
// is the fastest of THUMB_REPEATS (3) timings after one warm-up, as there. THUMB_FIT=centre,
// attention or entropy fills the box (fit cover) at that position, sharp's smart crop.
const fs = require("fs");
const sharp = require("sharp");
sharp.concurrency(1);
sharp.cache(false);

const sides = (process.env.THUMB_SIZE || "256").split(",").map(Number).sort((a, b) => b - a);
const avif = process.env.THUMB_FORMAT === "avif";
const repeats = Math.max(1, Number(process.env.THUMB_REPEATS || 3));
const crop = process.env.THUMB_FIT || "contain";
const fit = crop === "contain"
  ? { fit: "inside", withoutEnlargement: true }
  : { fit: "cover", position: crop === "centre" ? "centre" : crop, withoutEnlargement: true };

const encode = (image) => (avif ? image.avif({ quality: 80 }) : image.jpeg({ quality: 80 })).toBuffer();

async function thumbnail(data) {
  const largest = sharp(data, { pages: 1 })
    .rotate()
    .resize(sides[0], sides[0], fit)
    .flatten({ background: "#ffffff" });
  if (sides.length === 1) return encode(largest);
  let { data: pixels, info } = await largest.raw().toBuffer({ resolveWithObject: true });
  const raw = () => ({ raw: { width: info.width, height: info.height, channels: info.channels } });
  let written = 0;
  for (const side of sides) {
    if (side !== sides[0]) {
      ({ data: pixels, info } = await sharp(pixels, raw()).resize(side, side, fit).raw().toBuffer({ resolveWithObject: true }));
    }
    written += (await encode(sharp(pixels, raw()))).length;
  }
  return { length: written };
}

(async () => {
  const results = [];
  for (const file of process.argv.slice(2)) {
    const data = fs.readFileSync(file);
    const out = await thumbnail(data);
    const timings = [];
    for (let i = 0; i < repeats; i++) {
      const start = process.hrtime.bigint();
      await thumbnail(data);
      timings.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    const ms = Math.min(...timings);
    const { width, height } = await sharp(data).metadata();
    results.push({ file, ms, mp: (width * height) / 1e6, bytes: out.length });
  }
  console.log(JSON.stringify({ peer: "sharp", results, peak_rss_kib: process.resourceUsage().maxRSS }));
})();
