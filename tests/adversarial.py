"""simrec used as an adversarial user would: bad input, faults and misuse, case by case.

Each case is a small Python program run in a fresh interpreter (with a time limit) against
the public CLI, API and envs. It prints one line saying what it observed; the harness adds
how the program ended (finished, a simrec error, another exception, a timeout). Run it to
get the table of every case and its outcome::

    python tests/adversarial.py            # all cases, a Markdown table
    python tests/adversarial.py C01 R04    # some cases

``tests/test_adversarial.py`` runs every case and checks its expected outcome: a simrec
error (``SimrecError``, first line naming the field), or a run that finished with the
observation the case expects. No case may end in another exception or a timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass

__all__ = ["CASES", "Case", "run_case"]

#: Shared prelude of every case program: a tiny scenario and helpers.
PRELUDE = r"""
import json, os, subprocess, sys, tempfile, pathlib, textwrap
import numpy as np, yaml
os.environ.setdefault("OMP_NUM_THREADS", "1")
TMP = pathlib.Path(tempfile.mkdtemp(prefix="simrec-adv-"))
EXE = str(pathlib.Path(sys.executable).parent / "simrec")
def scenario(**over):
    base = {
        "name": "adv", "seeds": [0], "baseline": "random",
        "agents": [{"name": "random"}, {"name": "popularity"}],
        "world": {"items": {"n_items": 120}, "users": {"n_users": 60}},
        "simulation": {"days": 2, "tick_minutes": 60.0},
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            base[k] = {**base[k], **v}
        else:
            base[k] = v
    return base
def write(data, name="s.yaml"):
    p = TMP / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return p
def cli(*args, check=False):
    r = subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, timeout=240)
    err = [l for l in r.stderr.splitlines() if l.strip() and "it/s]" not in l and "%|" not in l]
    return r.returncode, (err[-1] if err else ""), r
def sim(cfg_over, agent="random", days=2, **kw):
    from simrec import Simulation, from_dict, Config
    base = {"world": {"items": {"n_items": 120}, "users": {"n_users": 60}},
            "simulation": {"days": days, "tick_minutes": 60.0}}
    for k, v in cfg_over.items():
        base[k] = {**base.get(k, {}), **v}
    return Simulation(from_dict(Config, base)).run(agent, seed=0, **kw)
def report(text):
    print("OBSERVED: " + text)
"""


@dataclass(frozen=True)
class Case:
    """One adversarial case.

    Attributes:
        id: Short id (category letter and number).
        what: What is tried.
        code: The program (after the prelude); prints ``OBSERVED: ...``.
        expect: ``"error"``: must end in a simrec error whose first line contains every
            string of ``needles``; ``"ok"``: must finish and its observation contain them.
        needles: Substrings the outcome must hold.
        timeout: Seconds before the case counts as a hang.
    """

    id: str
    what: str
    code: str
    expect: str
    needles: tuple[str, ...] = ()
    timeout: float = 120.0


def _c(id: str, what: str, code: str, expect: str, *needles: str, timeout: float = 120.0) -> Case:
    return Case(id, what, textwrap.dedent(code), expect, needles, timeout)


CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------ packaging
    _c(
        "P01",
        "a wheel built from the project holds every registered agent's module",
        """
        import zipfile, glob
        try:
            from simrec.agent import available_agents
            AGENTS = available_agents()
        except ImportError:
            from simrec.agent import AGENTS
        root = pathlib.Path(os.environ["SIMREC_ROOT"])
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(TMP), str(root)], check=True, capture_output=True)
        names = set(zipfile.ZipFile(glob.glob(str(TMP / "*.whl"))[0]).namelist())
        missing = sorted({i.target.split(":")[0] for i in AGENTS.values()
                          if i.target.split(":")[0].replace(".", "/") + ".py" not in names})
        report(f"missing modules: {missing}" if missing else "every agent module is in the wheel")
        """,
        "ok",
        "every agent module is in the wheel",
        timeout=240,
    ),
    # ------------------------------------------------------------------ results folders
    _c(
        "R01",
        "an agent label `../../escape` (a path out of --out)",
        """
        out = TMP / "a" / "b" / "out"
        s = scenario(agents=[{"name": "random", "label": "../../escape"}], baseline="")
        rc, line, _ = cli("run", write(s), "--out", out, "--no-progress", "--workers", "1")
        outside = sorted(str(p.relative_to(TMP)) for p in TMP.rglob("*") if "out" not in p.parts)
        report(f"rc={rc} {line} | written outside --out: {[p for p in outside if 'escape' in p]}")
        """,
        "error",
        "label",
    ),
    _c(
        "R02",
        "an agent label that is an absolute path",
        """
        target = TMP / "victim"
        (target / "0").mkdir(parents=True)
        (target / "0" / "precious.txt").write_text("data")
        s = scenario(agents=[{"name": "random", "label": str(target)}], baseline="")
        rc, line, _ = cli("run", write(s), "--out", TMP / "out", "--no-progress", "--workers", "1")
        report(f"rc={rc} {line} | precious file kept: {(target / '0' / 'precious.txt').exists()}")
        """,
        "error",
        "label",
    ),
    _c(
        "R03",
        "--force on a folder that holds other data (a `runs/` folder of one's own)",
        """
        out = TMP / "project"
        (out / "runs").mkdir(parents=True)
        (out / "runs" / "thesis.tex").write_text("years of work")
        rc, line, _ = cli("run", write(scenario()), "--out", out, "--force", "--no-progress")
        report(f"rc={rc} {line} | thesis kept: {(out / 'runs' / 'thesis.tex').exists()}")
        """,
        "error",
        "simrec did not write",
        "thesis kept: True",
    ),
    _c(
        "R04",
        "--resume after changing an agent's parameters",
        """
        out = TMP / "out"
        s = scenario(agents=[{"name": "popularity", "params": {"window_days": 7}}],
                     baseline="", seeds=[0])
        cli("run", write(s), "--out", out, "--no-progress", "--workers", "1")
        s["agents"][0]["params"]["window_days"] = 1
        s["seeds"] = [0, 1]
        rc, line, _ = cli("run", write(s), "--out", out, "--resume", "--no-progress",
                          "--workers", "1")
        report(f"rc={rc} {line}")
        """,
        "error",
        "window_days",
    ),
    _c(
        "R05",
        "a finished run's file corrupted, then `simrec report`",
        """
        out = TMP / "out"
        s = scenario(seeds=[0, 1], agents=[{"name": "random"}], baseline="")
        cli("run", write(s), "--out", out, "--no-progress", "--workers", "1")
        (out / "runs" / "random" / "1" / "daily.parquet").write_bytes(b"garbage")
        rc, line, r = cli("report", out)
        report(f"rc={rc} {line or r.stdout.strip()}")
        """,
        "error",
        "random",
        "1",
    ),
    _c(
        "R06",
        "a finished run's totals corrupted, then --resume",
        """
        out = TMP / "out"
        s = scenario(seeds=[0, 1], agents=[{"name": "random"}], baseline="")
        cli("run", write(s), "--out", out, "--no-progress", "--workers", "1")
        (out / "runs" / "random" / "1" / "totals.json").write_text("{")
        rc, line, r = cli("run", write(s), "--out", out, "--resume", "--no-progress",
                          "--workers", "1")
        import pandas as pd
        seeds = sorted(set(pd.read_parquet(out / "metrics.parquet")["seed"]))
        report(f"rc={rc} seeds in metrics.parquet after resume: {seeds}")
        """,
        "ok",
        "seeds in metrics.parquet after resume: [0, 1]",
    ),
    _c(
        "R07",
        "two `simrec run` at once on the same --out",
        """
        out = TMP / "out"
        s = scenario(seeds=[0, 1, 2], agents=[{"name": "random"}], baseline="",
                     world={"items": {"n_items": 300}, "users": {"n_users": 400}},
                     simulation={"days": 6, "tick_minutes": 30.0})
        p = write(s)
        a = subprocess.Popen([EXE, "run", str(p), "--out", str(out), "--no-progress",
                              "--workers", "1"], stderr=subprocess.PIPE, text=True)
        import time; time.sleep(2.0)
        rc, line, _ = cli("run", p, "--out", out, "--days", "5", "--force", "--no-progress",
                          "--workers", "1")
        a.wait()
        report(f"second run: rc={rc} {line}")
        """,
        "error",
        "another",
    ),
    _c(
        "R08",
        "results files readable by others (default umask 022)",
        """
        os.umask(0o022)
        out = TMP / "out"
        cli("run", write(scenario(agents=[{"name": "random"}], baseline="")), "--out", out,
            "--no-progress", "--workers", "1")
        modes = sorted({oct(p.stat().st_mode & 0o777) for p in out.rglob("*")
                        if not p.name.startswith(".")})
        report(f"modes: {modes}")
        """,
        "ok",
        "modes: ['0o644', '0o755']",
    ),
    _c(
        "R09",
        "a write fails (file size limit: EFBIG) while finished runs exist",
        """
        import resource
        out = TMP / "out"
        s = scenario(seeds=[0], agents=[{"name": "random"}], baseline="")
        cli("run", write(s), "--out", out, "--no-progress", "--workers", "1")
        s["seeds"] = [0, 1]
        def limit():
            resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
        r = subprocess.run([EXE, "run", str(write(s)), "--out", str(out), "--resume",
                            "--events", "1", "--no-progress", "--workers", "1"],
                           capture_output=True, text=True, preexec_fn=limit, timeout=240)
        err = [l for l in r.stderr.splitlines() if l.strip()]
        kept = (out / "runs" / "random" / "0" / "daily.parquet").exists()
        report(f"rc={r.returncode} {err[-1] if err else ''} | run 0 kept: {kept}")
        """,
        "error",
        "write",
    ),
    # ------------------------------------------------------------------ config values
    _c(
        "C01",
        "dynamics.interest_weight: .inf",
        """
        r = sim({"dynamics": {"interest_weight": float("inf")}})
        report(f"ctr={r.totals['ctr']:.3f}")
        """,
        "error",
        "dynamics.interest_weight",
    ),
    _c(
        "C02",
        "retention.gap_max_days: .inf",
        """
        r = sim({"retention": {"gap_max_days": float("inf")}})
        report(f"clicks={r.totals['clicks']:.0f}")
        """,
        "error",
        "retention.gap_max_days",
    ),
    _c(
        "C03",
        "world.items.price_median: .inf",
        """
        r = sim({"world": {"items": {"price_median": float("inf")}}})
        report(f"revenue={r.totals['revenue']}")
        """,
        "error",
        "price_median",
    ),
    _c(
        "C04",
        "world.items.release_over_days: .inf",
        """
        r = sim({"world": {"items": {"release_over_days": float("inf"),
                                     "initial_fraction": 0.5}}})
        report(f"clicks={r.totals['clicks']:.0f}")
        """,
        "error",
        "release_over_days",
    ),
    _c(
        "C05",
        "economy.margin: .nan in YAML",
        """
        s = scenario(economy={"margin": float("nan")})
        rc, line, _ = cli("run", write(yaml.safe_dump(s)), "--out", TMP / "o", "--no-progress")
        report(f"rc={rc} {line}")
        """,
        "error",
        "economy.margin",
    ),
    _c(
        "C06",
        "an empty scenario file",
        """
        rc, line, _ = cli("run", write(""), "--out", TMP / "o", "--no-progress")
        report(f"rc={rc} {line}")
        """,
        "error",
        "empty",
    ),
    _c(
        "C07",
        "a duplicate key in the scenario",
        """
        text = yaml.safe_dump(scenario()) + "seeds: [5]\\n"
        rc, line, _ = cli("run", write(text), "--out", TMP / "o", "--no-progress")
        report(f"rc={rc} {line}")
        """,
        "error",
        "duplicate",
        "seeds",
    ),
    _c(
        "C08",
        "a scenario file that is not UTF-8",
        """
        p = TMP / "latin1.yaml"
        p.write_bytes(b"question: caf\\xe9\\n" + yaml.safe_dump(scenario()).encode())
        rc, line, _ = cli("run", p, "--out", TMP / "o", "--no-progress")
        report(f"rc={rc} {line}")
        """,
        "error",
        "UTF-8",
    ),
    _c(
        "C09",
        "a YAML alias bomb (billion laughs) under `smoke`",
        """
        lines = ["  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
        for i in range(1, 10):
            lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 9) + "]")
        text = yaml.safe_dump(scenario()) + "smoke:\\n" + "\\n".join(lines) + "\\n"
        rc, line, _ = cli("run", write(text), "--out", TMP / "o", "--no-progress")
        report(f"rc={rc} {line[:160]}")
        """,
        "error",
        "YAML",
        timeout=60,
    ),
    _c(
        "C10",
        "a seed that does not fit in 64 bits",
        """
        rc, line, _ = cli("run", write(scenario(seeds=[2**70])), "--out", TMP / "o",
                          "--no-progress")
        report(f"rc={rc} {line}")
        """,
        "error",
        "seeds",
    ),
    _c(
        "C11",
        "retention.churn_min > churn_max",
        """
        r = sim({"retention": {"churn_min": 0.9, "churn_max": 0.1}})
        report(f"retention={r.totals['retention']:.3f}")
        """,
        "error",
        "churn",
    ),
    _c(
        "C12",
        "an intervention after the horizon",
        """
        rc, line, _ = cli("run", write(scenario(simulation={"days": 2, "tick_minutes": 60.0,
                          "interventions": [{"day": 50, "set": {"dynamics.appeal_weight": 0}}]})),
                          "--out", TMP / "o", "--no-progress")
        report(f"rc={rc} {line}")
        """,
        "error",
        "interventions",
    ),
    _c(
        "C13",
        "slate_size larger than the candidates",
        """
        r = sim({"simulation": {"slate_size": 10, "candidates": 4}})
        report(f"clicks={r.totals['clicks']:.0f}")
        """,
        "error",
        "slate_size",
    ),
    _c(
        "C14",
        "slate_size larger than the day-0 catalog (initial_fraction)",
        """
        r = sim({"world": {"items": {"n_items": 100, "initial_fraction": 0.02}},
                 "simulation": {"slate_size": 5}})
        report(f"clicks={r.totals['clicks']:.0f}")
        """,
        "error",
        "slate_size",
    ),
    _c(
        "C15",
        "a shelf life that empties the catalog mid-run",
        """
        r = sim({"world": {"items": {"shelf_life_days": 1.0}}}, days=4)
        report(f"clicks={r.totals['clicks']:.0f}")
        """,
        "error",
        "shelf_life_days",
    ),
    _c(
        "C16",
        "tick_minutes that does not divide a day (checked only when a run starts)",
        """
        rc, line, _ = cli("run", write(scenario(simulation={"days": 2, "tick_minutes": 7.0})),
                          "--out", TMP / "o", "--no-progress")
        report(f"rc={rc} {line} | folder created: {(TMP / 'o').exists()}")
        """,
        "error",
        "tick_minutes",
    ),
    _c(
        "C17",
        "a population that cannot fit in memory (10^9 users x 10^6 items)",
        """
        r = sim({"world": {"items": {"n_items": 10**6}, "users": {"n_users": 10**9}}})
        report("ran")
        """,
        "error",
        "memory",
        timeout=60,
    ),
    _c(
        "C18",
        "an absurd horizon (days: 10^9)",
        """
        rc, line, _ = cli("run", write(scenario(simulation={"days": 10**9})), "--out",
                          TMP / "o", "--no-progress")
        report(f"rc={rc} {line}")
        """,
        "error",
        "simulation.days",
        timeout=60,
    ),
    _c(
        "C19",
        "a 10^-9 minute tick",
        """
        rc, line, _ = cli("run", write(scenario(simulation={"days": 1, "tick_minutes": 1e-9})),
                          "--out", TMP / "o", "--no-progress")
        report(f"rc={rc} {line}")
        """,
        "error",
        "tick_minutes",
        timeout=60,
    ),
    _c(
        "C20",
        "a huge integer (world.dim: 10^30)",
        """
        rc, line, _ = cli("run", write(scenario(world={"dim": 10**30})), "--out", TMP / "o",
                          "--no-progress")
        report(f"rc={rc} {line}")
        """,
        "error",
        "world.dim",
        timeout=60,
    ),
    _c(
        "C21",
        "an agent parameter that is inf (mf learning rate)",
        """
        s = scenario(agents=[{"name": "mf", "params": {"lr": float("inf")}}],
                     baseline="")
        rc, line, _ = cli("run", write(s), "--out", TMP / "o", "--no-progress")
        report(f"rc={rc} {line}")
        """,
        "error",
        "params",
    ),
    # ------------------------------------------------------------------ preflight
    _c(
        "F01",
        "the last agent cannot serve this world (sb3-dqn: slate of 1 only)",
        """
        s = scenario(agents=[{"name": "random"}, {"name": "popularity"},
                             {"name": "sb3-dqn", "params": {"timesteps": 100}}],
                     simulation={"days": 2, "tick_minutes": 60.0, "candidates": 20})
        out = TMP / "o"
        rc, line, _ = cli("run", write(s), "--out", out, "--no-progress", "--workers", "1")
        runs = sorted(str(p.relative_to(out)) for p in out.glob("runs/*/*")) if out.exists() else []
        report(f"rc={rc} {line} | runs written before: {runs} | folder: {out.exists()}")
        """,
        "error",
        "sb3-dqn",
        timeout=240,
    ),
    # ------------------------------------------------------------------ agent errors
    _c(
        "A01",
        "an agent that raises in recommend on day 1",
        """
        from simrec import Agent
        class Boom(Agent):
            name = "boom"
            def recommend(self, batch):
                if batch.day >= 1:
                    raise ZeroDivisionError("my bug")
                return np.tile(batch.available[:batch.slate_size], (len(batch), 1))
        sim({}, agent=Boom(), label="boom-label")
        """,
        "error",
        "boom-label",
        "seed 0",
        "day 1",
        "recommend",
    ),
    _c(
        "A02",
        "an agent that returns a duplicate slate",
        """
        from simrec import Agent
        class Dup(Agent):
            name = "dup"
            def recommend(self, batch):
                return np.tile(batch.available[:1], (len(batch), batch.slate_size))
        sim({}, agent=Dup(), label="dup-label")
        """,
        "error",
        "dup-label",
        "day 0",
        "duplicate",
    ),
    # ------------------------------------------------------------------ isolation
    _c(
        "I01",
        "an agent writes into batch.users",
        """
        from simrec import Agent
        from simrec_agents.baselines import RandomAgent
        class Writer(RandomAgent):
            def recommend(self, batch):
                try:
                    batch.users[:] = 0
                except ValueError:
                    pass
                return super().recommend(batch)
        a = sim({}, agent=Writer()).log.impressions.to_frame()["user"].nunique()
        b = sim({}, agent="random").log.impressions.to_frame()["user"].nunique()
        report(f"users served: {a}, as many as in the untouched run: {a == b}")
        """,
        "ok",
        "as many as in the untouched run: True",
    ),
    _c(
        "I02",
        "an agent writes world.items.price",
        """
        from simrec_agents.baselines import RandomAgent
        class Writer(RandomAgent):
            def setup(self, context):
                super().setup(context)
                try:
                    context.world.items.price[:] = 1e6
                except ValueError:
                    pass
        a = sim({}, agent=Writer()).totals["revenue"]
        b = sim({}, agent="random").totals["revenue"]
        report(f"revenue equal to the untouched run: {a == b}")
        """,
        "ok",
        "revenue equal to the untouched run: True",
    ),
    _c(
        "I03",
        "an agent reads the run seed from its random stream",
        """
        from simrec_agents.baselines import RandomAgent
        seen = []
        class Spy(RandomAgent):
            def setup(self, context):
                super().setup(context)
                ss = getattr(context.rng.bit_generator, "seed_seq", None)
                seen.append(getattr(ss, "entropy", None))
        sim({}, agent=Spy())
        report(f"seed recoverable from the stream: {0 in np.atleast_1d(seen[0]).tolist()}")
        """,
        "ok",
        "seed recoverable from the stream: False",
    ),
    _c(
        "I04",
        "a non-oracle agent instance declares reads_hidden_state",
        """
        from simrec_agents.baselines import RandomAgent
        class Peek(RandomAgent):
            reads_hidden_state = True
            def setup(self, context):
                super().setup(context)
                self.truth = context.ground_truth()
        sim({}, agent=Peek())
        report("got the hidden state without opting in")
        """,
        "error",
        "hidden",
    ),
    _c(
        "I05",
        "the ground-truth accessor hands out the engine",
        """
        from simrec_agents.baselines import OracleAgent
        got = []
        class O(OracleAgent):
            def setup(self, context):
                super().setup(context)
                got.append(hasattr(self.truth, "engine"))
                v = self.truth.recent(np.arange(3))
                try:
                    v[:] = 7
                    got.append("writable")
                except ValueError:
                    got.append("read-only")
        import inspect
        from simrec import Simulation
        opt_in = "allow_hidden_state" in inspect.signature(Simulation.run).parameters
        sim({}, agent=O(), **({"allow_hidden_state": True} if opt_in else {}))
        report(f"engine reachable: {got[0]}, recent: {got[1]}")
        """,
        "ok",
        "engine reachable: False, recent: read-only",
    ),
    # ------------------------------------------------------------------ envs
    _c(
        "E01",
        "vector env: action_space.sample() then step",
        """
        import gymnasium as gym, simrec
        v = gym.make_vec("simrec/UserLifetime-v0", num_envs=64, slate_size=5)
        v.reset(seed=0)
        a = v.action_space.sample()
        rep = sum(len(set(r)) < len(r) for r in a.tolist())
        v.step(a)
        report(f"samples repeating an item: {rep}/64; step ok")
        """,
        "ok",
        "samples repeating an item: 0/64; step ok",
    ),
    _c(
        "E02",
        "env reward weight .inf",
        """
        import gymnasium as gym, simrec
        env = gym.make("simrec/UserLifetime-v0", reward={"click": float("inf")})
        env.reset(seed=0)
        print(env.step(env.action_space.sample())[1])
        report("accepted")
        """,
        "error",
        "reward.click",
    ),
    _c(
        "E03",
        "vector env step with the wrong number of actions",
        """
        import gymnasium as gym, simrec
        v = gym.make_vec("simrec/UserLifetime-v0", num_envs=8)
        v.reset(seed=0)
        v.step(np.zeros(3, dtype=np.int64))
        report("accepted")
        """,
        "error",
        "actions",
    ),
    _c(
        "E04",
        "env reset with a negative seed",
        """
        import gymnasium as gym, simrec
        gym.make("simrec/UserLifetime-v0").reset(seed=-1)
        report("accepted")
        """,
        "error",
        "seed",
    ),
    # ------------------------------------------------ one results store (issue 34)
    _c(
        "L01",
        "`.simrec.lock` is a symbolic link to a file outside --out",
        """
        out = TMP / "out"
        s = scenario()
        cli("run", write(s), "--out", out, "--no-progress", "--workers", "1")
        victim = TMP / "thesis.tex"
        victim.write_text("precious")
        (out / ".simrec.lock").unlink()
        os.symlink(victim, out / ".simrec.lock")
        rc, line, _ = cli("run", write(s), "--out", out, "--resume", "--no-progress")
        report(f"rc={rc} {line} | thesis kept: {victim.read_text() == 'precious'}")
        """,
        "error",
        "symbolic link",
        "thesis kept: True",
    ),
    _c(
        "L02",
        "`figures/` is a symbolic link to another folder, then `simrec report`",
        """
        import shutil
        out = TMP / "out"
        cli("run", write(scenario()), "--out", out, "--no-progress", "--workers", "1")
        other = TMP / "elsewhere"
        other.mkdir()
        shutil.rmtree(out / "figures")
        os.symlink(other, out / "figures")
        rc, line, _ = cli("report", out)
        report(f"rc={rc} {line} | written outside --out: {sorted(p.name for p in other.iterdir())}")
        """,
        "error",
        "symbolic link",
        "written outside --out: []",
    ),
    _c(
        "L03",
        "`runs/` is a symbolic link to another study's runs, then --force",
        """
        import shutil
        a, b = TMP / "a", TMP / "b"
        cli("run", write(scenario()), "--out", a, "--no-progress", "--workers", "1")
        cli("run", write(scenario(seeds=[1])), "--out", b, "--no-progress", "--workers", "1")
        before = sorted(str(p.relative_to(a)) for p in (a / "runs").rglob("*"))
        shutil.rmtree(b / "runs")
        os.symlink(a / "runs", b / "runs")
        rc, line, _ = cli("run", write(scenario(seeds=[1])), "--out", b, "--force", "--no-progress")
        after = sorted(str(p.relative_to(a)) for p in (a / "runs").rglob("*"))
        report(f"rc={rc} {line} | other study's runs unchanged: {before == after}")
        """,
        "error",
        "symbolic link",
        "unchanged: True",
    ),
    _c(
        "O01",
        "`simrec ab --force` on an A/B folder holding the user's runs/thesis.tex",
        """
        s = scenario(ab={"control": "random", "treatment": "popularity", "days": 1})
        out = TMP / "ab"
        cli("ab", write(s), "--out", out, "--no-progress", "--workers", "1")
        (out / "runs" / "thesis.tex").write_text("precious")
        rc, line, _ = cli("ab", write(s), "--out", out, "--force", "--no-progress")
        report(f"rc={rc} {line} | thesis kept: {(out / 'runs' / 'thesis.tex').exists()}")
        """,
        "error",
        "did not write",
        "thesis kept: True",
    ),
    _c(
        "O02",
        "`simrec ope --force` on a folder simrec did not write (runs/ and figures/ of the user's)",
        """
        s = scenario(
            agents=[{"name": "epsilon-greedy", "label": "log", "params": {"agent": "popularity"}},
                    {"name": "softmax", "label": "tgt", "params": {"agent": "random"}}],
            baseline="", ope={"logging": "log", "target": "tgt"},
            simulation={"days": 1, "slate_size": 1, "candidates": 10, "tick_minutes": 60.0},
        )
        out = TMP / "mine"
        (out / "runs").mkdir(parents=True)
        (out / "runs" / "thesis.tex").write_text("precious")
        (out / "figures").mkdir()
        (out / "figures" / "plot.pdf").write_text("mine")
        rc, line, _ = cli("ope", write(s), "--out", out, "--force", "--no-progress")
        kept = (out / "runs" / "thesis.tex").exists() and (out / "figures" / "plot.pdf").exists()
        report(f"rc={rc} {line} | files kept: {kept}")
        """,
        "error",
        "did not write",
        "files kept: True",
    ),
    _c(
        "O03",
        "`simrec sensitivity --force` on a folder where the user put notes inside points/",
        """
        s = scenario(uncertain={"retention.churn_max": [0.05, 0.4]}, seeds=[0, 1])
        out = TMP / "sens"
        cli("sensitivity", write(s), "--out", out, "--samples", "2", "--no-progress")
        (out / "points" / "notes.txt").write_text("precious")
        rc, line, _ = cli("sensitivity", write(s), "--out", out, "--samples", "2", "--force",
                          "--no-progress")
        report(f"rc={rc} {line} | notes kept: {(out / 'points' / 'notes.txt').exists()}")
        """,
        "error",
        "did not write",
        "notes kept: True",
        timeout=240,
    ),
    _c(
        "X01",
        "two `simrec ab` at once on one --out",
        """
        s = scenario(ab={"control": "random", "treatment": "popularity", "days": 1},
                     seeds=[0, 1, 2], simulation={"days": 6, "tick_minutes": 60.0},
                     world={"users": {"n_users": 2000}})
        out = TMP / "ab"
        first = subprocess.Popen([EXE, "ab", str(write(s)), "--out", str(out), "--no-progress",
                                  "--workers", "1"], stderr=subprocess.PIPE, text=True)
        import time
        while not (out / ".simrec.lock").exists() and first.poll() is None:
            time.sleep(0.05)
        time.sleep(0.5)
        rc, line, _ = cli("ab", write(s), "--out", out, "--resume", "--no-progress")
        first.wait(timeout=200)
        report(f"rc={rc} {line} | first run rc={first.returncode}")
        """,
        "error",
        "another simrec process",
        "first run rc=0",
        timeout=240,
    ),
    _c(
        "Q01",
        "`--resume --seeds 1` on a folder holding seed 0",
        """
        out = TMP / "out"
        s = scenario(seeds=[0])
        cli("run", write(s), "--out", out, "--no-progress", "--workers", "1")
        rc, line, _ = cli("run", write(s), "--out", out, "--resume", "--seeds", "1",
                          "--no-progress", "--workers", "1")
        import pandas as pd
        seeds = sorted(set(pd.read_parquet(out / "metrics.parquet")["seed"]))
        cfg = yaml.safe_load((out / "config.yaml").read_text())["seeds"]
        report(f"rc={rc} | seeds summarised: {seeds}, config.yaml seeds: {cfg}")
        """,
        "ok",
        "seeds summarised: [0, 1], config.yaml seeds: [0, 1]",
    ),
    _c(
        "Q02",
        "--resume with a Python agent whose parameters changed",
        """
        from simrec import Agent, from_dict
        from simrec.config import ScenarioConfig
        from simrec.runner import run_scenario
        class Shift(Agent):
            name = "shift"
            def __init__(self, k=0):
                self.k = k
            def recommend(self, batch):
                n = batch.slate_size
                return (np.arange(n)[None, :] + self.k + np.zeros((len(batch), 1), int)) % 120
        sc = from_dict(ScenarioConfig, scenario(agents=[{"name": "random"}], baseline=""))
        out = TMP / "py"
        run_scenario(sc, out, agents={"mine": Shift(0)}, progress=False)
        r = run_scenario(sc, out, agents={"mine": Shift(7)}, resume=True, progress=False)
        report(f"runs of the changed agent run again: {r.ran}")
        """,
        "ok",
        "runs of the changed agent run again: 1",
    ),
    _c(
        "Q03",
        "an A/B run file truncated, then --resume",
        """
        s = scenario(ab={"control": "random", "treatment": "popularity", "days": 1})
        out = TMP / "ab"
        cli("ab", write(s), "--out", out, "--no-progress", "--workers", "1")
        before = (out / "ab_seeds.csv").read_text()
        f = out / "runs" / "ab-seed0.parquet"
        f.write_bytes(f.read_bytes()[:100])
        rc, line, r = cli("ab", write(s), "--out", out, "--resume", "--no-progress")
        same = (out / "ab_seeds.csv").read_text() == before
        report(f"rc={rc} | run again: {'run again' in r.stderr}, same results: {same}")
        """,
        "ok",
        "rc=0 | run again: True, same results: True",
    ),
    # ------------------------------------------------ agents are untrusted code (issue 34)
    _c(
        "U01",
        "an agent writes into the configuration it is handed (a dict inside an intervention)",
        """
        from simrec.config import from_dict
        from simrec.config.scenario import ScenarioConfig
        from simrec.runner import run_scenario
        from simrec_agents.baselines import RandomAgent
        seen = []
        class Mutator(RandomAgent):
            isolated_state = False
            def setup(self, context):
                super().setup(context)
                iv = context.config.simulation.interventions[0]
                seen.append(dict(iv.set)["dynamics.appeal_weight"])
                try:
                    iv.set["dynamics.appeal_weight"] = 99.0
                except TypeError:
                    pass
        iv = [{"day": 1, "set": {"dynamics.appeal_weight": 1.0}}]
        s = scenario(seeds=[0, 1], agents=[{"name": "random"}], baseline="",
                     simulation={"days": 2, "tick_minutes": 60.0, "interventions": iv})
        sc = from_dict(ScenarioConfig, s)
        run_scenario(sc, TMP / "out", agents={"mutator": Mutator}, progress=False)
        report(f"appeal_weight each later run saw: {sorted(set(seen[1:]))}")
        """,
        "ok",
        "saw: [1.0]",
    ),
    _c(
        "U02",
        "an agent's cost().extra['totals'] claims 1e9 clicks",
        """
        from simrec.config import from_dict
        from simrec.config.scenario import ScenarioConfig
        from simrec.runner import run_scenario
        from simrec.types import Cost
        from simrec_agents.baselines import RandomAgent
        class Liar(RandomAgent):
            def cost(self):
                return Cost(extra={"totals": {"clicks": 1e9}})
        sc = from_dict(ScenarioConfig, scenario(agents=[{"name": "random"}], baseline=""))
        run_scenario(sc, TMP / "out", agents={"liar": Liar}, progress=False)
        t = json.loads((TMP / "out" / "runs" / "liar" / "0" / "totals.json").read_text())
        report(f"clicks={t['clicks']:.0f} agent.clicks={t.get('agent.clicks')}")
        """,
        "ok",
        "agent.clicks=1000000000.0",
    ),
    _c(
        "U03",
        "an agent calls sys.exit(0) on day 1 of a sweep",
        """
        pkg = TMP / "quitters"
        pkg.mkdir()
        (pkg / "__init__.py").write_text(textwrap.dedent('''
            import sys
            from simrec_agents.baselines import RandomAgent
            class Quitter(RandomAgent):
                name = "quitter"
                def retrain(self, day):
                    if day >= 1:
                        sys.exit(0)
        '''))
        info = TMP / "quitters-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\\nName: quitters\\nVersion: 0.1\\n")
        (info / "entry_points.txt").write_text("[simrec.agents]\\nquitter = quitters:Quitter\\n")
        os.environ["PYTHONPATH"] = str(TMP) + os.pathsep + os.environ.get("PYTHONPATH", "")
        s = scenario(agents=[{"name": "random"}, {"name": "quitter"}], baseline="",
                     simulation={"days": 3, "tick_minutes": 60.0})
        out = TMP / "out"
        rc, line, _ = cli("run", write(s), "--out", out, "--no-progress", "--workers", "1")
        report(f"rc={rc} {line} | summary written: {(out / 'summary.csv').exists()}")
        """,
        "error",
        "SystemExit",
        "summary written: False",
    ),
    _c(
        "U04",
        "sb3-ppo with train.out pointing outside --out",
        """
        target = TMP / "elsewhere"
        s = scenario(agents=[{"name": "sb3-ppo", "params": {"timesteps": 64,
                     "train": {"out": str(target)}}}], baseline="",
                     simulation={"days": 2, "tick_minutes": 60.0, "slate_size": 1,
                                 "candidates": 10})
        rc, line, _ = cli("run", write(s), "--out", TMP / "out", "--no-progress", "--workers", "1")
        report(f"rc={rc} {line} | written outside: {target.exists()}")
        """,
        "error",
        "train.out",
        "written outside: False",
        timeout=240,
    ),
    # ------------------------------------------------ one preflight per command (issue 34)
    _c(
        "G01",
        "`simrec ab` with 10^9 users",
        """
        s = scenario(ab={"control": "random", "treatment": "popularity", "days": 1},
                     world={"items": {"n_items": 120}, "users": {"n_users": 1_000_000_000}})
        out = TMP / "ab"
        rc, line, _ = cli("ab", write(s), "--out", out, "--no-progress", "--workers", "1")
        report(f"rc={rc} {line} | --out made: {out.exists()}")
        """,
        "error",
        "memory",
        "--out made: False",
    ),
    _c(
        "G02",
        "a grid of 1000 x 1000 values",
        """
        s = scenario(grid={"dynamics.appeal_weight": [1.0 + i / 1000 for i in range(1000)],
                           "dynamics.interest_weight": [1.0 + i / 1000 for i in range(1000)]})
        out = TMP / "out"
        rc, line, _ = cli("run", write(s), "--out", out, "--no-progress", "--workers", "1")
        report(f"rc={rc} {line} | --out made: {out.exists()}")
        """,
        "error",
        "limit",
        "--out made: False",
        timeout=90,
    ),
    _c(
        "G03",
        "`simrec sensitivity --samples 100000`",
        """
        s = scenario(uncertain={"retention.churn_max": [0.05, 0.4]}, seeds=[0, 1])
        out = TMP / "sens"
        rc, line, _ = cli("sensitivity", write(s), "--out", out, "--samples", "100000",
                          "--no-progress")
        report(f"rc={rc} {line} | --out made: {out.exists()}")
        """,
        "error",
        "limit",
        "--out made: False",
        timeout=90,
    ),
    _c(
        "G04",
        "`simrec ope` on a scenario with a grid",
        """
        s = scenario(
            agents=[{"name": "epsilon-greedy", "label": "log", "params": {"agent": "popularity"}},
                    {"name": "softmax", "label": "tgt", "params": {"agent": "random"}}],
            baseline="", ope={"logging": "log", "target": "tgt"},
            grid={"dynamics.appeal_weight": [1.0, 2.0]},
            simulation={"days": 1, "slate_size": 1, "candidates": 10, "tick_minutes": 60.0},
        )
        out = TMP / "ope"
        rc, line, _ = cli("ope", write(s), "--out", out, "--no-progress", "--workers", "1")
        report(f"rc={rc} {line} | --out made: {out.exists()}")
        """,
        "error",
        "grid",
        "--out made: False",
    ),
    _c(
        "G05",
        "an A/B test whose treatment arm holds (almost) no user: share 0.02 of 60 users",
        """
        s = scenario(ab={"control": "random", "treatment": "popularity", "days": 1,
                         "share": 0.02})
        out = TMP / "ab"
        rc, line, _ = cli("ab", write(s), "--out", out, "--no-progress", "--workers", "1")
        report(f"rc={rc} {line} | --out made: {out.exists()}")
        """,
        "error",
        "ab.share",
        "--out made: False",
    ),
    _c(
        "G06",
        "a typo in report.pareto (`retentoin`)",
        """
        s = scenario(report={"pareto": ["clicks:max", "retentoin:max"]})
        out = TMP / "out"
        rc, line, _ = cli("run", write(s), "--out", out, "--no-progress", "--workers", "1")
        report(f"rc={rc} {line} | --out made: {out.exists()}")
        """,
        "error",
        "retentoin",
        "--out made: False",
    ),
    _c(
        "G07",
        "filter_bubble with --agents random,mf (its report needs the ideal `oracle`)",
        """
        root = pathlib.Path(os.environ["SIMREC_ROOT"])
        out = TMP / "fb"
        rc, line, _ = cli("run", root / "scenarios" / "filter_bubble.yaml", "--smoke", "--agents",
                          "random,mf", "--out", out, "--no-progress", "--workers", "1")
        report(f"rc={rc} {line} | --out made: {out.exists()}")
        """,
        "error",
        "oracle",
        "--out made: False",
        timeout=240,
    ),
    _c(
        "G08",
        "a typo caught by the A/B command, then the corrected command",
        """
        s = scenario(ab={"control": "random", "treatment": "popularity", "days": 1})
        out = TMP / "ab"
        rc, line, _ = cli("ab", write(s), "--out", out, "--set", "world.kind=synthetc",
                          "--no-progress", "--workers", "1")
        made = out.exists()
        rc2, line2, _ = cli("ab", write(s), "--out", out, "--no-progress", "--workers", "1")
        report(f"rc={rc} {line} | --out made: {made} | corrected command rc={rc2}")
        """,
        "error",
        "world.kind",
        "--out made: False | corrected command rc=0",
    ),
    # ------------------------------------------------------------------ policy files
    _c(
        "S01",
        "an SB3 policy file named without its sha256",
        """
        from simrec_agents.rl.sb3 import train_policy
        train_policy("ppo", timesteps=64, out=TMP / "pol", n_steps=32, batch_size=32,
                     env_kwargs={"env": {"warmup_users": 0}})
        from simrec.agent import make_agent
        make_agent("sb3-ppo", path=str(TMP / "pol" / "policy.zip"))
        report("policy accepted without a checksum")
        """,
        "error",
        "sha256",
        timeout=240,
    ),
)


def run_case(case: Case, env: dict[str, str] | None = None) -> tuple[str, str]:
    """Run one case in a fresh interpreter.

    Returns:
        ``(outcome, line)``: outcome is ``"ok"`` (finished), ``"error"`` (ended in a
        ``SimrecError``: the line is its first line), ``"exception"`` (any other exception:
        its type and first line), ``"timeout"``; the line is what the case observed.
    """
    program = (
        PRELUDE
        + "\ntry:\n"
        + textwrap.indent(case.code, "    ")
        + (
            "\nexcept Exception as err:\n"
            "    from simrec.errors import SimrecError\n"
            "    kind = 'SIMREC' if isinstance(err, SimrecError) else 'OTHER'\n"
            "    first = (str(err).splitlines() or [''])[0]\n"
            "    print(f'{kind}: {type(err).__name__}: {first}')\n"
        )
    )
    full_env = {**os.environ, **(env or {})}
    full_env.setdefault("SIMREC_ROOT", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # A session of its own: on a timeout the whole group (the case and the `simrec run` it
    # started) is killed, not just the case's interpreter.
    proc = subprocess.Popen(
        [sys.executable, "-c", program],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=case.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return "timeout", f"no answer within {case.timeout:.0f} s"
    r = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    lines = r.stdout.splitlines()
    for line in lines:
        if line.startswith("SIMREC: "):
            return "error", line[len("SIMREC: ") :]
        if line.startswith("OTHER: "):
            return "exception", line[len("OTHER: ") :]
    observed = [line[len("OBSERVED: ") :] for line in lines if line.startswith("OBSERVED: ")]
    if r.returncode != 0:
        tail = [x for x in r.stderr.splitlines() if x.strip()]
        return "exception", f"exit {r.returncode}: {tail[-1] if tail else ''}"
    line = observed[-1] if observed else ""
    if "simrec: error: " in line and "rc=2" in line:  # the CLI refused with one line
        return "error", line
    if "Traceback" in r.stdout or ("rc=1" in line and "Error" in line):
        return "exception", line
    return "ok", line


def _main(argv: list[str]) -> int:
    chosen = [c for c in CASES if not argv or c.id in argv]
    print("| case | what | outcome | first line |")
    print("|---|---|---|---|")
    for case in chosen:
        outcome, line = run_case(case)
        line = line.replace("|", "\\|")
        print(f"| {case.id} | {case.what} | {outcome} | {line} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
