"""The report as a rich table, markdown, a matplotlib plot, and JSON files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .config import IMGGEN_BACKENDS

_STAGE_COLUMNS = ("latents", "h2d", "infer", "postprocess", "d2h")


def _psnr_text(value: float | str | None) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else f"{value:.1f}"


def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}" if v < 10 else f"{v:.1f}"


def _rows(model: dict[str, Any]) -> list[list[str]]:
    rss = {n: c.get("peak_rss_bytes", 0) / 2**20 for n, c in model["contenders"].items()}
    psnr = {n: c.get("psnr_db") for n, c in model["contenders"].items()}
    rows = []
    for r in sorted(model["results"], key=lambda r: (r["batch"], r["infer_ms"]["median"])):
        lat, st = r["latency_ms"], r["stages_mean_ms"]
        name = r["contender"]
        rows.append(
            [
                f"**{name}**" if name in IMGGEN_BACKENDS else name,
                str(r["batch"]),
                "e2e" if r["scope"].startswith("seeds") else "infer",
                f"{r['images_per_s']:.1f}",
                _ms(lat["median"]),
                f"{_ms(lat['p90'])} / {_ms(lat['p99'])}",
                _ms(r["infer_ms"]["median"]),
                " / ".join(_ms(st[s]) for s in _STAGE_COLUMNS),
                f"{r['infer_gflops']:.0f} ({r['infer_share_of_matmul']:.0%}"
                + (
                    f" / {r['infer_share_of_bf16_matmul']:.0%} bf16)"
                    if "infer_share_of_bf16_matmul" in r
                    else ")"
                ),
                _psnr_text(psnr.get(name)),
                f"{lat['cv']:.1%}",
                f"{rss.get(name, 0):.0f}",
            ]
        )
    return rows


HEADERS = [
    "contender",
    "batch",
    "scope",
    "images/s",
    "median ms",
    "p90 / p99 ms",
    "infer median ms",
    "stages ms: latents / h2d / infer / post / d2h",
    "infer GFLOP/s (% fp32 / bf16 matmul)",
    "PSNR vs FP32 dB",
    "CV",
    "peak RSS MiB",
]


def markdown(report: dict[str, Any]) -> str:
    m, lim = report["machine"], report["limits"]
    lines = [
        "# imggen-rt bench",
        "",
        f"Machine: {m['cpu']}, {m['usable_cpus']} usable CPUs ({m['physical_cores']} physical "
        f"cores), {m['os']}, Python {m['python']}; 1-min load {m['load_average_1min_at_start']} "
        f"at start, {m.get('load_average_1min_at_end', '?')} at end; {m['date']}.",
        "",
        f"Limits measured in this run: float32 matmul {lim['matmul_gflops']:.0f} GFLOP/s, "
        + (
            f"bf16 matmul {lim['bf16_matmul_gflops']:.0f} GFLOP/s, "
            if lim.get("bf16_matmul_gflops")
            else ""
        )
        + f"copy {lim['copy_gbps']:.1f} GB/s ({lim.get('method', '')}).",
        "",
        "Bold contenders are imggen-rt, timed end to end (seeds -> latents -> infer -> uint8 "
        "frames, stage by stage); peers are timed on inference alone, called as their docs "
        "show. n/a: a stage that does not exist on this backend (no device copies on a CPU). "
        "Compare ratios within a table; absolute times on a shared machine move by 20-30%.",
    ]
    for model in report["models"]:
        card = model["card"]
        h, w = card["resolution"]
        cfg = model["config"]
        lines += [
            "",
            f"## {model['label']} ({model['model']}: {card['channels']}x{h}x{w}, "
            f"{model['flops_per_image'] / 1e9:.3f} GFLOP/image)",
            "",
            f"Warm-up {cfg['warmup_s']:g} s, {cfg['duration_s']:g} s timed per contender and "
            f"batch, interleaved in rounds of {cfg['round_s']:g} s.",
            "",
            "| " + " | ".join(HEADERS) + " |",
            "|" + "---|" * len(HEADERS),
        ]
        lines += ["| " + " | ".join(row) + " |" for row in _rows(model)]
        warn = [
            f"- {r['contender']} b{r['batch']}: {w}"
            for r in model["results"]
            for w in r["warnings"]
        ]
        if warn:
            lines += ["", "Warnings:", "", *warn]
        if model["skipped"]:
            lines += ["", "Skipped:", ""]
            lines += [f"- {n}: {why}" for n, why in model["skipped"].items()]
        diffs = [
            f"{n} {c['max_abs_diff']:.1e}"
            for n, c in model["contenders"].items()
            if "max_abs_diff" in c
        ]
        if diffs:
            ref = next(iter(model["contenders"].values())).get("diff_reference", "?")
            lines += ["", f"Max abs difference from {ref} on 2 seeds: {', '.join(diffs)}."]
        if model["cold_start"]:
            cold = [
                f"{n} {c['total_s']:.2f} s (import {c['import_s']:.2f}, load {c['load_s']:.2f}, "
                f"first image {c['first_image_s']:.2f}; process {c['process_wall_s']:.2f})"
                if "total_s" in c
                else f"{n}: {c.get('error')}"
                for n, c in model["cold_start"].items()
            ]
            lines += ["", "Cold start (fresh process): " + "; ".join(cold) + "."]
    if report["goals"]:
        lines += [
            "",
            "## Goals",
            "",
            "| goal | model | batch | value | target | met |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {g['goal']} | {g['model']} | {g['batch']} | {g['value']:.2f} | {g['target']} | "
            f"{'yes' if g['met'] else '**no**'} |"
            for g in report["goals"]
        ]
    return "\n".join(lines) + "\n"


def print_tables(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    # Eleven columns need about 150 characters; rich falls back to 80 when stdout is a pipe,
    # which would fold every cell.
    console = Console(width=max(Console().width, 150))
    lim = report["limits"]
    for model in report["models"]:
        table = Table(
            title=f"{model['label']}: {model['flops_per_image'] / 1e9:.3f} GFLOP/image; machine "
            f"matmul {lim['matmul_gflops']:.0f} GFLOP/s, copy {lim['copy_gbps']:.1f} GB/s",
        )
        for h in HEADERS:
            table.add_column(h.replace("stages ms: ", "stages ms\n"), overflow="fold")
        for row in _rows(model):
            table.add_row(*(c.replace("**", "") for c in row))
        console.print(table)
        for r in model["results"]:
            for w in r["warnings"]:
                console.print(f"[yellow]warning[/] {r['contender']} b{r['batch']}: {w}")
        for name, why in model["skipped"].items():
            console.print(f"[dim]skipped {name}: {why}[/]")
    for g in report["goals"]:
        mark = "[green]met[/]" if g["met"] else "[red]not met[/]"
        console.print(
            f"goal {g['goal']} ({g['model']} b{g['batch']}): {g['value']:.2f} {g['target']} {mark}"
        )


def plot(report: dict[str, Any], path: Path) -> None:
    """Per model: latency and throughput by batch per contender, and the per-stage split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = report["models"]
    fig, axes = plt.subplots(len(models), 3, figsize=(15, 3.6 * len(models)), squeeze=False)
    for row, model in zip(axes, models, strict=True):
        names = sorted({r["contender"] for r in model["results"]})
        for name in names:
            rs = sorted((r for r in model["results"] if r["contender"] == name), key=_batch)
            batches = [r["batch"] for r in rs]
            style = "-o" if name in IMGGEN_BACKENDS else "--s"
            row[0].plot(batches, [r["infer_ms"]["median"] for r in rs], style, label=name)
            row[1].plot(batches, [r["images_per_s"] for r in rs], style, label=name)
        for ax, ylabel in ((row[0], "inference median ms"), (row[1], "images/s")):
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("batch")
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
        row[0].set_title(f"{model['label']}: latency (inference)")
        row[1].set_title(f"{model['label']}: throughput")
        row[1].legend(fontsize=7)
        ours = sorted(
            (r for r in model["results"] if r["contender"] in IMGGEN_BACKENDS),
            key=lambda r: (r["contender"], r["batch"]),
        )
        labels = [f"{r['contender']}\nb{r['batch']}" for r in ours]
        bottom = [0.0] * len(ours)
        for stage in _STAGE_COLUMNS:
            values = [r["stages_mean_ms"][stage] or 0.0 for r in ours]
            shares = [v / r["latency_ms"]["mean"] * 100 for v, r in zip(values, ours, strict=True)]
            if any(shares):
                row[2].bar(labels, shares, bottom=bottom, label=stage)
                bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
        row[2].set_ylabel("% of end-to-end mean")
        row[2].set_title(f"{model['label']}: imggen-rt stage split")
        row[2].tick_params(axis="x", labelsize=7)
        row[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _batch(r: dict[str, Any]) -> int:
    return int(r["batch"])


def write_outputs(
    report: dict[str, Any],
    json_path: Path | None = None,
    markdown_path: Path | None = None,
    plot_path: Path | None = None,
) -> None:
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2) + "\n")
    if markdown_path is not None:
        markdown_path.write_text(markdown(report))
    if plot_path is not None:
        plot(report, plot_path)
