"""An RL library simrec does not otherwise use trains on a simrec env (torchrl, ``dev`` extra)."""

import runpy
from pathlib import Path

import pytest

pytest.importorskip("torchrl", reason="needs torchrl: pip install 'simrec[dev]'")

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


@pytest.mark.slow
def test_torchrl_ppo_learns_to_beat_random_on_held_out_users():
    main = runpy.run_path(str(REPO / "scenarios" / "torchrl_ppo.py"), run_name="x")["main"]
    out = main(["--episodes", "300"])
    (ppo, ppo_ci), (rand, rand_ci) = out["torchrl-ppo"], out["random"]
    assert ppo - ppo_ci > rand + rand_ci, (ppo, rand)
    assert len(out["returns"]) == 10  # 20,000 frames in batches of 2,048 (the last one short)


def test_torchrl_example_refuses_a_slate_env():
    main = runpy.run_path(str(REPO / "scenarios" / "torchrl_ppo.py"), run_name="x")["main"]
    with pytest.raises(SystemExit, match="serves slates"):
        main(["--env", "simrec/Retention-v0"])
