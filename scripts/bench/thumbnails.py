"""`make bench-thumbnails`: this crate's thumbnail core against Pillow, pyvips and sharp.

First a line saying how it was taken (CPU model, cores, commit, rustc: about.py). On one
core (taskset -c 0), on the same corpus of real photos (Debian's wallpaper packages,
fetched by scripts/photos.py), each makes a 256x256 JPEG q80 thumbnail from
bytes in memory: decode, orient, fit, flatten, encode. A file's time is the fastest of
BENCH_ROUNDS (3) runs, the implementations taking turns, each timing it THUMB_REPEATS (3)
times after a warm-up: one timing per file moved the peer ratios by 15-30% between runs.

Prints, for baseline JPEG, progressive JPEG, all JPEG and PNG/WebP, images/s with the spread
of the rounds' own rates, megapixels/s,
median and p95 ms, peak RSS and our ratio to each; for JPEG also our thumbnails with libjpeg
alone (today's path before our decoder) and the 1/8-scale decode-only rates: ours, ours
through libjpeg alone, and libjpeg-turbo through Pillow; the baseline files ours decodes at
1/8 and at 2/8 as groups of their own; then the share of the corpus our decoder takes.
Then the same four implementations for larger boxes and a two-size configuration
(BENCH_BOXES, "512 1024 256,1024"; the 256 figures are the table above), one table per box:
each group's images/s, ours against the best peer, and every implementation's peak RSS.
Before the summary: the cold start (scripts/bench/cold_start.py: the release binary's size
and the time from process start to its first runtime-API request), the two costs of the photo record
(colour management: the JPEGs with a Display P3 profile embedded, against without; AVIF
thumbnails for 256 and 1024 boxes, against our JPEG and sharp's and Pillow's AVIF) and what
a whole batch costs with S3 in the loop (batch_costs). The last line is machine-readable.
"""

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from photos import PACKAGES, photos  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from about import describe, spread  # noqa: E402

WORK = ROOT / ".bench"
# Where cargo puts what it builds: the project's target/ unless CARGO_TARGET_DIR says otherwise.
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PYTHON_PEERS = ["pillow==13.0.0", "pyvips==3.2.0"]
SHARP = "sharp@0.35.5"
# Each implementation runs over its files this many times, taking turns with the others; each
# run times every file THUMB_REPEATS (3) times after a warm-up. A file's time is the fastest.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# The boxes measured beside the 256 one: a display size, a large one, and the usual pair of a
# grid thumbnail and a display size made together (THUMB_SIZE takes a list).
BOXES = os.environ.get("BENCH_BOXES", "512 1024 256,1024").split()
PEERS = ("pillow", "pyvips", "sharp")


def sh(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, **kwargs)


def peers() -> None:
    python = sys.executable
    try:
        sh(python, "-c", "import pyvips, PIL", stderr=subprocess.DEVNULL)
    except subprocess.CalledProcessError:
        if subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout.find("libvips.so.42") < 0:
            sh("apt-get", "install", "-y", "-qq", "libvips42", env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        sh(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PYTHON_PEERS)
    if not (WORK / "node" / "node_modules" / "sharp").exists():
        (WORK / "node").mkdir(parents=True, exist_ok=True)
        sh("npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(WORK / "node"), SHARP)


def run(command: list[str], files: list[Path], env: dict | None = None) -> dict:
    out = subprocess.run(["taskset", "-c", "0", *command, *map(str, files)], check=True, capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(jobs: dict) -> dict:
    """Runs every job (command, files, env) ROUNDS times, the jobs taking turns, and keeps each
    file's fastest time and each job's highest peak RSS. Taking turns spreads the machine's
    slow minutes over every implementation instead of charging them to whichever ran then."""
    measured = {}
    for _ in range(ROUNDS):
        for key, (command, files, env) in jobs.items():
            this = run(command, files, env)
            # Each round's own throughput, whose spread says how far the figures can be trusted.
            round_images_s = len(this["results"]) / (sum(r["ms"] for r in this["results"]) / 1000)
            if key not in measured:
                measured[key] = {**this, "rounds": [round_images_s]}
                continue
            measured[key]["rounds"].append(round_images_s)
            best = measured[key]
            best["peak_rss_kib"] = max(best["peak_rss_kib"], this["peak_rss_kib"])
            for kept, new in zip(best["results"], this["results"]):
                kept["ms"] = min(kept["ms"], new["ms"])
    return measured


def figures(results: list[dict]) -> dict:
    ms = [r["ms"] for r in results]
    total_s = sum(ms) / 1000
    return {"images_s": len(ms) / total_s, "mp_s": sum(r["mp"] for r in results) / total_s,
            "median": statistics.median(ms), "p95": sorted(ms)[max(0, round(len(ms) * 0.95) - 1)]}


def progressive(path: Path) -> bool:
    """Whether a JPEG's frame header is progressive (SOF2), read from its markers."""
    data = path.read_bytes()
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xFF:
            at += 1
            continue
        if marker in (0xC2, 0xC6, 0xCA, 0xCE):
            return True
        if marker in (0xC0, 0xC1, 0xC3, 0xDA):
            return False
        at += 2 + int.from_bytes(data[at + 2:at + 4], "big")
    return False


def main() -> None:
    files = photos()
    jpeg = [f for f in files if f.suffix.lower() in (".jpg", ".jpeg")]
    other = [f for f in files if f not in jpeg]
    baseline = [f for f in jpeg if not progressive(f)]
    peers()
    # The bench needs the image library's test seams; the function (its cold start) is built without them.
    sh("cargo", "build", "--quiet", "--release", "--locked", "-p", "imaging", "--features", "test-support",
       "--example", "bench", cwd=ROOT)
    sh("cargo", "build", "--quiet", "--release", "--locked", "-p", "thumbnailer", "--bin", "thumbnailer", cwd=ROOT)
    ours = [str(TARGET / "release/examples/bench")]
    script = str(Path(__file__).with_name("thumbnails_peers.py"))
    node_env = {"NODE_PATH": str(WORK / "node" / "node_modules"), "VIPS_CONCURRENCY": "1"}
    runners = {
        "thumbnailer": (ours, {}),
        "pillow": ([sys.executable, script, "pillow"], {}),
        "pyvips": ([sys.executable, script, "pyvips"], {"VIPS_CONCURRENCY": "1"}),
        "sharp": (["node", str(Path(__file__).with_name("thumbnails_sharp.js"))], node_env),
    }
    # Today's libjpeg path beside the new decoder, and the 1/8-scale decodes alone.
    jpeg_runners = {
        "thumbnailer, libjpeg only": (ours, {"THUMB_DECODER": "libjpeg"}),
        "decode 1/8: ours": (ours, {"THUMB_STAGE": "decode"}),
        "decode 1/8: ours, libjpeg only": (ours, {"THUMB_STAGE": "decode", "THUMB_DECODER": "libjpeg"}),
        "decode 1/8: libjpeg-turbo (Pillow)": ([sys.executable, script, "decode-limit"], {}),
    }
    print(describe())
    print(f"corpus: {len(jpeg)} JPEG ({len(baseline)} baseline, {len(jpeg) - len(baseline)} progressive) and "
          f"{len(other)} PNG/WebP photos from {', '.join(PACKAGES)}; one core; 256x256 JPEG q80; each file's "
          f"fastest of {ROUNDS} rounds x {os.environ.get('THUMB_REPEATS', '3')} timings")
    groups = (("jpeg baseline", baseline), ("jpeg progressive", [f for f in jpeg if f not in baseline]),
              ("png/webp", other))
    table, measured_jpeg, decoders = {}, {}, {}
    jobs = {(group, name): (command, group_files, env) for group, group_files in groups if group_files
            for name, (command, env) in {**runners, **(jpeg_runners if group.startswith("jpeg") else {})}.items()}
    for (group, name), measured in measure(jobs).items():
        table[(group, name)] = {**figures(measured["results"]), "rss_mib": measured["peak_rss_kib"] / 1024,
                                "spread": spread(measured["rounds"])}
        if group.startswith("jpeg"):
            measured_jpeg.setdefault(name, []).extend(measured["results"])
        if name == "thumbnailer":
            decoders.update({r["file"]: r.get("decoder") for r in measured["results"]})
    # The baseline files our decoder serves at 1/8 (DC only: where its own speed shows) and
    # at 2/8 (every coefficient decoded, as libjpeg does), from the same runs.
    baseline_names = {str(f) for f in baseline}
    for scale in ("1/8", "2/8"):
        served = {file for file, decoder in decoders.items()
                  if decoder == f"eighth-scale {scale}" and file in baseline_names}
        for name, results in measured_jpeg.items():
            subset = [r for r in results if r["file"] in served]
            if subset and not name.startswith("decode"):
                # A subset of the runs above: no process of its own, so no peak of its own.
                table[(f"jpeg baseline, ours at {scale}", name)] = {**figures(subset), "rss_mib": None, "spread": "-"}
    for name, results in measured_jpeg.items():
        table[("jpeg (all)", name)] = {**figures(results), "spread": "-",
                                       "rss_mib": max(v["rss_mib"] for (g, n), v in table.items()
                                                      if n == name and g.startswith("jpeg") and v["rss_mib"] is not None)}
    print(f"spread: (fastest - slowest) / median of the {ROUNDS} rounds' images/s; a subset of those runs has none of its own")
    print("\n| input | implementation | images/s | spread | MP/s | median ms | p95 ms | peak RSS MiB | ours vs it |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (group, name), f in table.items():
        reference = table[(group, "decode 1/8: ours" if name.startswith("decode") else "thumbnailer")]["images_s"]
        rss = "-" if f["rss_mib"] is None else f"{f['rss_mib']:.0f}"
        print(f"| {group} | {name} | {f['images_s']:.1f} | {f['spread']} | {f['mp_s']:.0f} | {f['median']:.1f} | "
              f"{f['p95']:.1f} | {rss} | {reference / f['images_s']:.2f}x |")
    eighth = sum(1 for d in decoders.values() if d and d.startswith("eighth-scale"))
    ours_baseline = sum(1 for f, d in decoders.items() if d and d.startswith("eighth-scale") and f in baseline_names)
    at_1_8 = sum(1 for d in decoders.values() if d == "eighth-scale 1/8")
    print(f"\nour decoder: {eighth} of {len(jpeg)} JPEGs ({eighth / len(jpeg):.0%}; {ours_baseline} of {len(baseline)} "
          f"baseline and {eighth - ours_baseline} of {len(jpeg) - len(baseline)} progressive; {at_1_8} at 1/8 and "
          f"{eighth - at_1_8} at 2/8) and {eighth / len(files):.0%} of all {len(files)} "
          f"photos take it for a 256 box; the rest take libjpeg. "
          f"Decode-only rows: ours against the decoder named, at 1/8.")
    by_box = {"256": {group: {name: table[(group, name)] for name in ("thumbnailer", *PEERS)}
                          for group in ("jpeg (all)", "jpeg baseline", "jpeg progressive", "png/webp")
                          if (group, "thumbnailer") in table}}
    by_box.update(box_tables(runners, groups))
    cold = json.loads(subprocess.run([sys.executable, str(Path(__file__).with_name("cold_start.py")),
                                      str(TARGET / "release/thumbnailer"), "20"],
                                     check=True, capture_output=True, text=True).stdout)
    print(f"\ncold start: release binary {cold['binary_mib']:.1f} MiB; process start to its first runtime-API request "
          f"(GET /runtime/invocation/next): median {cold['median_ms']:.1f} ms, p95 {cold['p95_ms']:.1f} ms over {cold['runs']} runs")
    peers_only = PEERS

    def versus_best_peer(group: str) -> float:
        return table[(group, "thumbnailer")]["images_s"] / max(table[(group, p)]["images_s"] for p in peers_only)

    def ratio(group: str, ours_name: str, theirs: str) -> float:
        return table[(group, ours_name)]["images_s"] / table[(group, theirs)]["images_s"]

    other_vs_sharp = ratio("png/webp", "thumbnailer", "sharp") if other else float("nan")
    rss = max(v["rss_mib"] for (g, n), v in table.items() if n == "thumbnailer" and v["rss_mib"] is not None)
    lowest_peer_rss = min(v["rss_mib"] for (g, n), v in table.items() if n in peers_only and v["rss_mib"] is not None)
    colour = colour_cost(ours, jpeg)
    crops = crop_cost(runners, jpeg)
    hash_ms = hash_cost(ours, jpeg)
    avif = avif_cost(runners, jpeg)
    batches = batch_costs(files)
    print(f"\nsummary: jpeg_vs_best_peer={versus_best_peer('jpeg (all)'):.2f} "
          f"baseline_vs_best_peer={versus_best_peer('jpeg baseline'):.2f} "
          f"baseline_at_1_8_vs_best_peer={versus_best_peer('jpeg baseline, ours at 1/8'):.2f} "
          f"baseline_at_2_8_vs_best_peer={versus_best_peer('jpeg baseline, ours at 2/8'):.2f} "
          f"progressive_vs_best_peer={versus_best_peer('jpeg progressive'):.2f} "
          f"baseline_decode_vs_libjpeg={ratio('jpeg baseline', 'decode 1/8: ours', 'decode 1/8: ours, libjpeg only'):.2f} "
          f"baseline_decode_vs_pillow={ratio('jpeg baseline', 'decode 1/8: ours', 'decode 1/8: libjpeg-turbo (Pillow)'):.2f} "
          f"baseline_vs_libjpeg_path={ratio('jpeg baseline', 'thumbnailer', 'thumbnailer, libjpeg only'):.2f} "
          f"eighth_scale_share_of_jpeg={eighth / len(jpeg):.2f} "
          f"other_vs_sharp={other_vs_sharp:.2f} "
          f"jpeg_vs_decode_limit={ratio('jpeg (all)', 'thumbnailer', 'decode 1/8: libjpeg-turbo (Pillow)'):.2f} "
          f"rss_vs_lowest_peer={rss / lowest_peer_rss:.2f} "
          f"colour_management_overhead={colour:.3f} phash_ms={hash_ms:.3f} attention_crop_ms={crops['attention']:.2f} "
          f"entropy_crop_ms={crops['entropy']:.2f} attention_crop_share={crops['attention_alone']:.3f} "
          f"entropy_crop_share={crops['entropy_alone']:.3f} attention_vs_sharp={crops['attention_vs_sharp']:.2f} avif_256_encode_ms={avif[256]:.0f} avif_1024_encode_ms={avif[1024]:.0f} "
          f"batch_speedup={batches['batch_speedup']:.2f} usd_per_million_512={batches['usd_per_million_512']:.2f} "
          + " ".join(f"{box_key(box)}_{group_key(group)}_vs_best_peer={ratio_to_best(groups_of_box[group]):.2f}"
                     for box, groups_of_box in by_box.items() for group in groups_of_box) + " "
          + " ".join(f"{box_key(box)}_rss_below_every_peer={int(rss_below_peers(groups_of_box))}"
                     for box, groups_of_box in by_box.items()))


def box_key(box: str) -> str:
    return "box_" + box.replace(",", "_")


def group_key(group: str) -> str:
    return {"jpeg (all)": "jpeg", "jpeg baseline": "baseline", "jpeg progressive": "progressive",
            "png/webp": "png_webp"}[group]


def ratio_to_best(implementations: dict) -> float:
    """Our images/s over the fastest peer's."""
    return implementations["thumbnailer"]["images_s"] / max(implementations[p]["images_s"] for p in PEERS)


def rss_below_peers(groups_of_box: dict) -> bool:
    """Whether our peak RSS is below every peer's in every group of a box."""
    return all(g["thumbnailer"]["rss_mib"] < min(g[p]["rss_mib"] for p in PEERS) for g in groups_of_box.values())


def box_tables(runners: dict, groups: tuple) -> dict:
    """Every box of BOXES: the four implementations on each group, in rounds taking turns as
    above, one table per box. Each makes all the box's sizes from one decode, its own best
    way (ours: one decode at the scale the largest box needs, every size resized from it;
    the peers: the largest from the file, each smaller from the larger one's pixels)."""
    jobs = {(box, group, name): (command, files, {**env, "THUMB_SIZE": box})
            for box in BOXES for group, files in groups if files
            for name, (command, env) in runners.items()}
    measured = measure(jobs)
    by_box = {}
    for box in BOXES:
        by_group = {}
        for group, files in groups:
            if not files:
                continue
            by_group[group] = {name: {**figures(measured[(box, group, name)]["results"]),
                                      "rss_mib": measured[(box, group, name)]["peak_rss_kib"] / 1024,
                                      "spread": spread(measured[(box, group, name)]["rounds"]),
                                      "results": measured[(box, group, name)]["results"]}
                               for name in runners}
        jpeg_groups = [g for g in ("jpeg baseline", "jpeg progressive") if g in by_group]
        if jpeg_groups:
            by_group["jpeg (all)"] = {}
            for name in runners:
                results = [r for g in jpeg_groups for r in by_group[g][name]["results"]]
                by_group["jpeg (all)"][name] = {**figures(results), "spread": "-",
                                                "rss_mib": max(by_group[g][name]["rss_mib"] for g in jpeg_groups)}
        sides = " and ".join(f"{side}x{side}" for side in box.split(","))
        print(f"\nbox {sides}: one core, JPEG q80, each file's fastest of {ROUNDS} rounds x "
              f"{os.environ.get('THUMB_REPEATS', '3')} timings; all sizes from one decode")
        print("| input | implementation | images/s | spread | median ms | p95 ms | peak RSS MiB | ours vs it |")
        print("|---|---|---|---|---|---|---|---|")
        for group, implementations in by_group.items():
            ours = implementations["thumbnailer"]["images_s"]
            for name, f in implementations.items():
                print(f"| {group} | {name} | {f['images_s']:.1f} | {f['spread']} | {f['median']:.1f} | "
                      f"{f['p95']:.1f} | {f['rss_mib']:.0f} | {ours / f['images_s']:.2f}x |")
        scales = {}
        for group in jpeg_groups:
            for r in by_group[group]["thumbnailer"]["results"]:
                scales[r.get("decoder", "?")] = scales.get(r.get("decoder", "?"), 0) + 1
        print("ours vs the best peer: " + ", ".join(f"{group} {ratio_to_best(i):.2f}x" for group, i in by_group.items())
              + f"; our peak RSS below every peer's in every group: {'yes' if rss_below_peers(by_group) else 'no'}; "
              + "our JPEG decoders: " + ", ".join(f"{n} {d}" for d, n in sorted(scales.items())))
        by_box[box] = by_group
    return by_box


def colour_cost(ours: list[str], jpeg: list[Path]) -> float:
    """The thumbnail of every corpus JPEG, as it is and with a Display P3 profile embedded
    (so converted to sRGB before resizing): the share colour management adds."""
    profile = ROOT / "imaging/testdata/icc/DisplayP3-v4.icc"
    measured = measure({"plain": (ours, jpeg, {}), "managed": (ours, jpeg, {"EMBED_PROFILE": str(profile)})})
    plain, managed = (figures(measured[key]["results"]) for key in ("plain", "managed"))
    overhead = plain["images_s"] / managed["images_s"] - 1
    print("\ncolour management: the JPEG corpus with a Display P3 profile embedded in each, one core, 256x256 JPEG q80")
    print("| profile | images/s | median ms |\n|---|---|---|")
    print(f"| none (sRGB assumed) | {plain['images_s']:.1f} | {plain['median']:.1f} |")
    print(f"| Display P3, converted to sRGB | {managed['images_s']:.1f} | {managed['median']:.1f} |")
    print(f"overhead: {overhead:+.1%}")
    return overhead


def hash_cost(ours: list[str], jpeg: list[Path]) -> float:
    """The perceptual hash alone, on each corpus JPEG's 1/8-scale decode (what the pipeline
    hashes for a 256 box), beside a whole thumbnail: what filing every photo's hash costs."""
    measured = measure({"hash": (ours, jpeg, {"THUMB_STAGE": "phash"}), "thumbnail": (ours, jpeg, {})})
    hashed, whole = (figures(measured[key]["results"]) for key in ("hash", "thumbnail"))
    print(f"\nperceptual hash: {len(jpeg)} corpus JPEGs, one core; the 64-bit DCT hash of the decoded image alone")
    print("| step | median ms | p95 ms |\n|---|---|---|")
    print(f"| hash (32 x 32 average, DCT, median) | {hashed['median']:.3f} | {hashed['p95']:.3f} |")
    print(f"| whole 256x256 thumbnail (hash included) | {whole['median']:.2f} | {whole['p95']:.2f} |")
    print(f"the hash is {hashed['median'] / whole['median']:.1%} of a thumbnail's median time")
    return hashed["median"]


def crop_cost(runners: dict, jpeg: list[Path]) -> dict[str, float]:
    """Square 256x256 thumbnails that fill the box (cover) of every corpus JPEG: ours cropped
    centred, by attention and by entropy, beside sharp's and pyvips's (libvips's smartcrop),
    in rounds taking turns. Returns what choosing the crop adds to our centre crop, in median
    ms per thumbnail, and our attention crop's rate against sharp's."""
    crops = ("centre", "attention", "entropy")
    jobs = {(name, crop): (runners[name][0], jpeg, {**runners[name][1], "THUMB_FIT": crop})
            for crop in crops for name in ("thumbnailer", "sharp", "pyvips")}
    measured = {key: figures(value["results"]) for key, value in measure(jobs).items()}
    print(f"\ncrops: {len(jpeg)} corpus JPEGs as 256x256 thumbnails that fill the box (cover), one core, JPEG q80; "
          "added = median ms over the same implementation's centre crop")
    print("| crop | implementation | images/s | median ms | added ms | ours vs it |\n|---|---|---|---|---|---|")
    for crop in crops:
        for name in ("thumbnailer", "sharp", "pyvips"):
            f = measured[(name, crop)]
            added = f["median"] - measured[(name, "centre")]["median"]
            ours = measured[("thumbnailer", crop)]["images_s"]
            print(f"| {crop} | {name} | {f['images_s']:.1f} | {f['median']:.2f} | {added:+.2f} | {ours / f['images_s']:.2f}x |")
    centre = measured[("thumbnailer", "centre")]["median"]
    # Choosing the crop alone, on the decode a cover thumbnail starts from: what the strategy
    # itself costs, without the run-to-run spread of two whole thumbnails' medians.
    command, env = runners["thumbnailer"]
    alone_jobs = {crop: (command, jpeg, {**env, "THUMB_FIT": crop, "THUMB_STAGE": "crop"}) for crop in crops[1:]}
    alone = {crop: figures(value["results"]) for crop, value in measure(alone_jobs).items()}
    print("\nchoosing the crop alone (THUMB_STAGE=crop), on the image a cover thumbnail is made from:")
    print("| crop | median ms | p95 ms | share of a centre-cropped thumbnail's median |\n|---|---|---|---|")
    for crop in crops[1:]:
        print(f"| {crop} | {alone[crop]['median']:.3f} | {alone[crop]['p95']:.3f} | {alone[crop]['median'] / centre:.1%} |")
    return {"attention": measured[("thumbnailer", "attention")]["median"] - centre,
            "entropy": measured[("thumbnailer", "entropy")]["median"] - centre,
            "attention_alone": alone["attention"]["median"] / centre,
            "entropy_alone": alone["entropy"]["median"] / centre,
            "attention_vs_sharp": measured[("thumbnailer", "attention")]["images_s"] / measured[("sharp", "attention")]["images_s"]}


def avif_cost(runners: dict, jpeg: list[Path]) -> dict[int, float]:
    """AVIF against JPEG thumbnails of the first ten corpus JPEGs, for a small and a large
    box, ours and the peers that write AVIF (sharp: libvips and libaom; Pillow: libavif).
    Returns our median AVIF encode cost per box: AVIF's median time less JPEG's."""
    sample = jpeg[:10]
    print(f"\nAVIF: {len(sample)} corpus JPEGs, one core, quality 80; encode = the AVIF thumbnail's time less our JPEG's")
    print("| box | implementation | format | median ms | mean KiB |\n|---|---|---|---|---|")
    encode = {}
    for side in (256, 1024):
        ours_jpeg = None
        for name, fmt in (("thumbnailer", "jpeg"), ("thumbnailer", "avif"), ("sharp", "avif"), ("pillow", "avif")):
            command, env = runners[name]
            measured = figures_with_bytes(run(command, sample, {**env, "THUMB_FORMAT": fmt, "THUMB_SIZE": str(side)}))
            print(f"| {side} | {name} | {fmt} | {measured['median']:.1f} | {measured['kib']:.1f} |")
            if name == "thumbnailer" and fmt == "jpeg":
                ours_jpeg = measured["median"]
            elif name == "thumbnailer":
                encode[side] = measured["median"] - ours_jpeg
        print(f"| {side} | thumbnailer | AVIF encode | {encode[side]:.1f} | |")
    return encode


def figures_with_bytes(measured: dict) -> dict:
    results = measured["results"]
    return {**figures(results), "kib": statistics.mean(r.get("bytes", 0) for r in results) / 1024}


def batch_costs(files: list[Path]) -> dict:
    """The packaged binary on SQS batches of real photos with S3 in the loop
    (tests/bench/thumbnail_batches.rs): prints its table, returns its figures."""
    print("\nbatches: the packaged binary under Lambda's memory limit and CPU share, S3 behind a 20 ms, 100 MB/s proxy")
    sh("cargo", "lambda", "build", "--quiet", "--release", "--locked", "--bin", "thumbnailer", cwd=ROOT)
    out = subprocess.run(["cargo", "run", "--quiet", "--locked", "-p", "integration-tests", "--example",
                          "bench-thumbnail-batches"], cwd=ROOT, check=True, capture_output=True, text=True,
                         input="\n".join(map(str, files)))
    lines = out.stdout.strip().splitlines()
    print("\n".join(lines[:-1]))
    return json.loads(lines[-1])


if __name__ == "__main__":
    main()
