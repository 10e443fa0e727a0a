"""``simrec calibrate``: the MovieLens worlds against the real data, and the long-run targets.

The command's options are declared in :mod:`simrec.cli`; this module runs it.
"""

from __future__ import annotations

import argparse

from simrec.errors import SimrecError

__all__ = ["calibrate_command"]


def calibrate_command(args: argparse.Namespace) -> int:
    """``simrec calibrate``: the MovieLens comparison, or with ``--targets`` the long-run one."""
    import pandas as pd

    from simrec import calibration
    from simrec.preflight import preflight

    preflight(None, "calibrate", fraction=args.fraction, seed=args.seed)
    if args.targets:
        return _calibrate_targets(args)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    pd.set_option("display.max_colwidth", 120)
    if args.split == "in-sample":
        if args.world != "movielens-100k":
            raise SimrecError(f"--split in-sample: only for movielens-100k, got {args.world}")
        real, sim, tv = calibration.calibrate(seed=args.seed, exposure_power=0.5)
        print(f"{args.world}, in sample (fitted and compared on all ratings):")
        print(calibration.comparison(real, sim).round(3).to_string())
        print(f"genre shares, total-variation distance: {tv:.3f}")
        return 0
    name, split = args.world, args.fraction
    ranking = calibration.heldout_ranking(name, split, seed=args.seed)
    cover = ranking.attrs["coverage"]
    print(f"{name}: fitted on the first {split:.0%} of the ratings (time order), judged on the")
    print(f"last {1 - split:.0%} ({cover['held-out ratings']:,} ratings):")
    for what, share in list(cover.items())[1:]:
        print(f"  {share:6.1%} {what}")
    print("\nheld-out ranking (per-user means; CIs: paired bootstrap over users):")
    print(ranking.round(3).to_string())
    overrides: dict = {}
    power = 0.5
    if args.activity == "refitted" and name in calibration.REFITTED:
        overrides, power = calibration.REFITTED[name]
    if args.refit:
        overrides, power, table = calibration.refit_sessions(
            name, split, seed=args.seed, progress=not args.no_progress
        )
        print("\nactivity settings and exposure, compared on the training period:")
        print(table.round(3).to_string(index=False))
        print(f"chosen: {overrides or 'defaults'}, exposure power {power}")
    print(f"\nactivity settings: {overrides or 'model defaults'}; exposure power {power}")
    out = calibration.temporal_calibration(
        name, split, overrides, seed=args.seed, exposure_power=power
    )
    for period in ("train", "held-out"):
        print(f"\nactivity, {period} period (real ratings vs simulated clicks):")
        print(out[period].round(3).to_string())
        print(
            f"genre shares, total-variation distance: {out['genre_tv'][period]:.3f}; "
            f"volume, real / simulated clicks per active user: {out['volume_ratio'][period]:.1f}x"
        )
    return 0


def _calibrate_targets(args: argparse.Namespace) -> int:
    from simrec import calibration_targets as ct

    seeds = tuple(args.seeds)  # parsed by the option's type
    if not seeds:
        raise SimrecError("--seeds: expected at least one seed, got none")
    cfg = ct.target_config(args.model, dict(args.set))
    table = ct.target_table(cfg, seeds=seeds, progress=not args.no_progress)
    days, n = cfg.simulation.days, cfg.world.users.n_users
    print(f"long-run targets, model {args.model!r}: {n:,} day-0 users, "
          f"{cfg.world.users.arrivals_per_day:g} newcomers a day, {days} days; random and "
          f"popularity x seeds {list(seeds)} (mean, 95% CI over runs)")  # fmt: skip
    print(table.round(3).to_string(index=False))
    held = int(table["holds"].sum())
    print(f"{held} of {len(table)} targets in range")
    return 0
