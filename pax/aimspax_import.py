"""pax-import-aimspax: aims-PAX settings (aimsPAX.yaml, model.yaml) as pax presets.

Every setting with a pax equivalent goes into a preset of its group (al, md,
mlff, dft, cluster; the al preset builds on al=aims_pax, so what the file
leaves out keeps aims-PAX's behaviour); every other one is listed with the
reason it was not carried over.

    pax-import-aimspax aimsPAX.yaml model.yaml --name aspirin --out conf
    pax al=aspirin md=aspirin mlff=aspirin dft=aspirin cluster=aspirin
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from pax.aimspax_translate import Translation, translate


def write_presets(t: Translation, out: Path, name: str) -> list[Path]:
    """One <out>/<group>/<name>.yaml per group; returns the files written."""
    written = []
    bases = {"al": "aims_pax", "md": "langevin", "mlff": "mace_small"}
    if "system" in t.presets and "geometry" not in t.presets["system"]:
        t.skip(
            "MISC",
            "path_to_geometry",
            None,
            "the system preset needs "
            "system.geometry=<your geometry> on the command line",
        )
    for group, values in sorted(t.presets.items()):
        if group == "run":
            continue
        values = dict(values)
        base = values.pop("_base", bases.get(group))
        path = out / group / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        header = (
            f"# Imported from aims-PAX settings by pax-import-aimspax.\n"
            f"defaults: [{base}, _self_]\n"
        )
        path.write_text(header + yaml.safe_dump(values, sort_keys=True))
        written.append(path)
    return written


def command(t: Translation, out: Path, name: str) -> str:
    """The pax command line that uses the presets."""
    groups = [g for g in sorted(t.presets) if g != "run"]
    args = [f"{g}={name}" for g in groups]
    if "run" in t.presets:
        args.append(f"run.name={t.presets['run']['name']}")
    conf = Path(__file__).resolve().parents[1] / "conf"
    prefix = [] if out.resolve() == conf else [f"--config-dir {out}"]
    return " ".join(["pax", *prefix, *args])


def main(argv: list[str] | None = None) -> int:
    """Entry point of pax-import-aimspax."""
    p = argparse.ArgumentParser(
        prog="pax-import-aimspax", description=__doc__.splitlines()[0]
    )
    p.add_argument("project", type=Path, help="aims-PAX's aimsPAX.yaml")
    p.add_argument("model", type=Path, nargs="?", help="aims-PAX's model.yaml")
    p.add_argument("--name", default="imported", help="preset name (default: imported)")
    p.add_argument("--out", type=Path, default=Path("conf"), help="config folder")
    args = p.parse_args(argv)
    loaded = []
    for path in (args.project, args.model):
        if path is None:
            loaded.append(None)
            continue
        try:
            loaded.append(yaml.safe_load(path.read_text()) or {})
        except (OSError, yaml.YAMLError) as exc:
            print(f"pax-import-aimspax: error: {path}: {exc}", file=sys.stderr)
            return 2
    t = translate(*loaded)
    for path in write_presets(t, args.out, args.name):
        print(f"wrote {path}")
    print(f"run: {command(t, args.out, args.name)}")
    if t.skipped:
        print(f"not carried over ({len(t.skipped)}):")
        for line in t.skipped:
            print(f"  {line}")
    return 0


def cli() -> None:
    """Console script: exit with main's status."""
    sys.exit(main())
