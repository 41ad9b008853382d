"""Clinical settings: `config/settings.toml` (shipped defaults), overridden key by key by
`<config_dir>/settings.toml`.

Scalars become SQL parameters named `<section>_<key>` (e.g. `$lookback_dxa_months`); the few tabular sections
(prednisone factors, osteoporosis-therapy windows, unit conversions, default lab ranges) become small DuckDB
tables.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from screening.errors import ConfigError
from screening.paths import CONFIG_DIR, config_dirs, site_config_dir

DEFAULT_CONFIG_DIR = CONFIG_DIR

# Sections whose keys are data (ingredients, units...), loaded as tables instead of parameters.
TABLE_SECTIONS = {
    ("glucocorticoid", "prednisone_factor"),
    ("op_therapy_months",),
    ("labs", "units"),
    ("labs", "default_range"),
    ("units", "dose"),
}


@dataclass
class Settings:
    raw: dict
    params: dict[str, float | int | bool]
    config_dirs: list[Path]
    files: list[Path] = field(default_factory=list)
    digest: str = ""

    # -- tabular sections -------------------------------------------------------------------------------
    def pred_factors(self) -> list[tuple[str, float]]:
        return [(k, float(v)) for k, v in self.raw["glucocorticoid"]["prednisone_factor"].items()]

    def op_windows(self) -> list[tuple[str, int]]:
        return [(k, int(v)) for k, v in self.raw["op_therapy_months"].items()]

    def lab_units(self) -> list[tuple[str, str, float]]:
        return [
            (analyte, norm_unit(unit), float(f))
            for analyte, units in self.raw["labs"]["units"].items()
            for unit, f in units.items()
        ]

    def canonical_units(self) -> list[tuple[str, str]]:
        """The unit each analyte is compared in: the first unit listed with factor 1, as written."""
        return [
            (analyte, next(u for u, f in units.items() if float(f) == 1.0))
            for analyte, units in self.raw["labs"]["units"].items()
        ]

    def lab_ranges(self) -> list[tuple[str, float | None, float | None]]:
        rng = self.raw["labs"]["default_range"]
        analytes = sorted({k.rsplit("_", 1)[0] for k in rng})
        return [(a, rng.get(f"{a}_low"), rng.get(f"{a}_high")) for a in analytes]

    def dose_units(self) -> list[tuple[str, float]]:
        return [(norm_unit(k), float(v)) for k, v in self.raw["units"]["dose"].items()]


def norm_unit(unit: str) -> str:
    """Units compare lower-case without spaces (UCUM `ng/mL` = `ng/ml`)."""
    return "".join(str(unit).split()).lower()


def _merge(base: dict, override: dict, path: str = "") -> dict:
    out = dict(base)
    for key, value in override.items():
        where = f"{path}.{key}" if path else key
        if key not in base:
            # Tabular sections accept new keys (a new unit, a new ingredient factor); scalars must exist.
            if not any(where.startswith(".".join(s)) for s in TABLE_SECTIONS):
                raise ConfigError(f"settings.toml: unknown setting {where!r} (check the spelling)")
            out[key] = value
        elif isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"settings.toml: {where!r} must be a table")
            out[key] = _merge(base[key], value, where)
        else:
            out[key] = value
    return out


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: settings file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _flatten(d: dict, prefix: tuple = ()) -> dict:
    out = {}
    for key, value in d.items():
        path = (*prefix, key)
        if any(path[: len(s)] == s for s in TABLE_SECTIONS):
            _check_numbers(value, path)
            continue
        if isinstance(value, dict):
            out.update(_flatten(value, path))
        else:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"settings.toml: {'.'.join(path)} must be a number, got {value!r}")
            _check_finite(value, path)
            out["_".join(path)] = value
    return out


def _check_numbers(value, path: tuple) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _check_numbers(v, (*path, k))
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"settings.toml: {'.'.join(path)} must be a number, got {value!r}")
    else:
        _check_finite(value, path)


def _check_finite(value: int | float, path: tuple) -> None:
    """TOML allows inf and nan; no threshold, factor or look-back can be one (they would compare as always or
    never true, or overflow a cast), and integers beyond 64 bits cannot be SQL parameters."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"settings.toml: {'.'.join(path)} must be a finite number, got {value!r}")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise ConfigError(f"settings.toml: {'.'.join(path)} is out of range (more than 64 bits)")


def load_settings(config_dir: Path | None = None) -> Settings:
    """Shipped defaults, then the site folder (`OSTEOSCREEN_CONFIG`), then `--config DIR`, key by key."""
    files = [DEFAULT_CONFIG_DIR / "settings.toml"]
    raw = _read_toml(files[0])
    for extra in (site_config_dir(), config_dir):
        if extra is not None and not Path(extra).is_dir():
            raise ConfigError(f"{extra}: configuration folder not found")
    dirs = config_dirs(Path(config_dir) if config_dir is not None else None)
    for d in dirs[1:]:
        user = d / "settings.toml"
        if user.exists():
            raw = _merge(raw, _read_toml(user))
            files.append(user)
    params = _flatten(raw)
    digest = hashlib.sha256(repr(sorted(params.items())).encode()).hexdigest()
    s = Settings(raw=raw, params=params, config_dirs=dirs, files=files, digest=digest)
    _validate(s)
    return s


def _validate(s: Settings) -> None:
    p = s.params
    for key, value in p.items():
        if key.startswith("lookback_") and (not isinstance(value, int) or value < 0):
            raise ConfigError(f"settings.toml: {key} must be a whole number of months >= 0")
    if p["dxa_valid_min"] >= p["dxa_valid_max"]:
        raise ConfigError("settings.toml: dxa.valid_min must be below dxa.valid_max")
    for k, v in s.op_windows():
        if v < 0:
            raise ConfigError(f"settings.toml: op_therapy_months.{k} must be >= 0")
    for analyte, units in s.raw["labs"]["units"].items():
        if not any(float(f) == 1.0 for f in units.values()):
            raise ConfigError(f"settings.toml: labs.units.{analyte} needs its canonical unit (factor 1)")


def record_max_bytes(settings: Settings | None = None) -> int:
    """The one record-size limit (bytes), shared by the loader and DXA report attachments ([limits])."""
    params = (settings or load_settings()).params
    return int(params.get("load_record_size_limit_mib", 64) * 1024 * 1024)


def memory_limit(settings: Settings | None = None) -> str:
    """DuckDB's memory budget from [limits] memory_limit_mib (default 2 GiB), as a DuckDB size string."""
    params = (settings or load_settings()).params
    return f"{int(params.get('limits_memory_limit_mib', 2048))}MiB"
