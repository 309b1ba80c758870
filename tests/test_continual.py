"""Tests of the continual-learning harness (synlab.continual) on tiny synthetic streams."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synlab.continual import (
    BGDStrategy,
    DeterministicStrategy,
    EWCStrategy,
    GhostStrategy,
    PresynapticStrategy,
    bgd_mlp_step,
    bgd_update,
    ewc_penalty,
    merge_ewc_anchors,
    merge_tasks,
    random_search,
    strategy_accuracy,
    train_jointly,
    train_sequentially,
    validation_split,
)
from synlab.data import ContinuousPermutedStream, Task


def _blob_task(name, n, dim, seed, perm=None, n_test=200):
    """Two Gaussian classes separated along a random direction; optional feature permutation."""
    g = torch.Generator().manual_seed(seed)
    direction = torch.randn(dim, generator=g)
    direction /= direction.norm()

    def draw(m):
        y = torch.randint(0, 2, (m,), generator=g)
        x = torch.randn(m, dim, generator=g) + 2.5 * (2 * y[:, None].float() - 1) * direction
        return (x if perm is None else x[:, perm]), y

    xtr, ytr = draw(n)
    xte, yte = draw(n_test)
    return Task(name, xtr, ytr, xte, yte, n_classes=2)


def _permuted_stream(n_tasks=2, n=400, dim=30):
    g = torch.Generator().manual_seed(7)
    base = _blob_task("t0", n, dim, seed=11)
    tasks = [base]
    for k in range(1, n_tasks):
        p = torch.randperm(dim, generator=g)
        tasks.append(
            Task(
                f"t{k}",
                base.x_train[:, p],
                (1 - base.y_train) if k % 2 else base.y_train,
                base.x_test[:, p],
                (1 - base.y_test) if k % 2 else base.y_test,
                2,
            )
        )
    return tasks


def _constant_label_stream(T=3, n=200, dim=10):
    """Task i: inputs near 3·e_i, every label i. After task i the model predicts i on task i's inputs."""
    g = torch.Generator().manual_seed(0)

    def x(i, m):
        return 3 * torch.eye(dim)[i] + 0.1 * torch.randn(m, dim, generator=g)

    return [
        Task(f"c{i}", x(i, n), torch.full((n,), i), x(i, 50), torch.full((50,), i), n_classes=T)
        for i in range(T)
    ]


class _Recording(DeterministicStrategy):
    """Records its own evaluation of every task after each task, to compare with the matrix."""

    def after_task(self, index, task):
        self.rows = getattr(self, "rows", [])
        self.rows.append([strategy_accuracy(self, t.x_test, t.y_test) for t in self.tasks])


def test_accuracy_matrix_bookkeeping():
    tasks = _constant_label_stream()
    s = _Recording(lr=0.02, optimizer="adam")
    s.tasks = tasks
    res = train_sequentially(tasks, s, epochs=10, batch_size=50, hidden=(32,), eval_every=4)
    assert res.accuracy.shape == (3, 3)
    np.testing.assert_allclose(res.accuracy, np.array(s.rows))  # row i = after learning task i
    # the diagonal is the task just learned; tasks not yet seen are at 0 (their label was never a target)
    assert np.all(np.diag(res.accuracy) > 0.9)
    assert np.all(res.accuracy[np.triu_indices(3, 1)] < 0.1)
    assert res.average_accuracy == pytest.approx(res.accuracy[-1].mean())
    assert res.steps_per_task == 10 * 4
    np.testing.assert_array_equal(res.task_ends, [40, 80, 120])
    np.testing.assert_allclose(res.task_axis([0, 20, 40, 100]), [0, 0.5, 1, 2.5])
    assert res.curve_step[0] == 0 and np.all(np.diff(res.curve_step) == 4)
    assert res.curve_acc.shape == (len(res.curve_step), 1)


def test_consolidation_protects_first_task():
    tasks = _permuted_stream(n_tasks=2)
    kw = dict(p_up=0.2, p_down=0.02, g_lim=1e-3, p_freeze=0.9, test_samples=5)
    first = {}
    for consolidate in (True, False):
        accs = []
        for seed in (0, 1):
            s = PresynapticStrategy(0.2, consolidate=consolidate, **kw)
            res = train_sequentially(
                tasks, s, epochs=5, batch_size=20, hidden=(64,), seed=seed, eval_every=1000
            )
            assert res.accuracy[0, 0] > 0.9  # the first task is learned by both
            accs.append(res.accuracy[1, 0])
        first[consolidate] = np.mean(accs)
    assert first[True] > first[False] + 0.05, first


def test_presynaptic_stats_and_freezing():
    tasks = _permuted_stream(n_tasks=1)
    stats = {}
    for g_lim in (0.0, 1e6):  # every used synapse counts as important / none does
        s = PresynapticStrategy(0.1, p_up=0.3, p_down=0.01, g_lim=g_lim, p_freeze=0.8)
        train_sequentially(tasks, s, epochs=1, batch_size=50, hidden=(8,), eval_every=1000)
        stats[g_lim] = s.stats()
    assert stats[1e6] == {"mean_p": pytest.approx(0.25), "frozen": 0.0}  # all pushed down to p_min
    assert stats[0.0]["frozen"] > 0.2 and stats[0.0]["mean_p"] > 0.5


def test_ghost_release_stays_fixed_while_ghost_p_moves():
    tasks = _permuted_stream(n_tasks=1)
    s = GhostStrategy(0.1, p_up=0.2, p_down=0.05, g_lim=1e-3, p_freeze=0.95, test_samples=1)
    train_sequentially(tasks, s, epochs=1, batch_size=50, hidden=(8,), eval_every=1000)
    for m in s.model.modules():
        if hasattr(m, "p") and isinstance(m.p, torch.Tensor):
            assert torch.all(m.p == 0.5)
    ghost = torch.cat([g.flatten() for g in s.ghost.values()])
    assert ghost.max() > 0.3 and ghost.min() >= 0.25


def test_ewc_penalty_zero_at_anchor_and_quadratic():
    g = torch.Generator().manual_seed(0)
    star = {"a": torch.randn(4, 3, generator=g), "b": torch.randn(5, generator=g)}
    fisher = {k: torch.rand(v.shape, generator=g) for k, v in star.items()}
    d = {k: torch.randn(v.shape, generator=g) for k, v in star.items()}
    assert float(ewc_penalty(star, [(fisher, star)], lam=3.0)) == 0.0
    pen = lambda t: float(
        ewc_penalty({k: star[k] + t * d[k] for k in star}, [(fisher, star)], lam=3.0)
    )  # noqa: E731
    assert pen(1.0) > 0
    for t in (0.5, 2.0, -3.0):
        assert pen(t) == pytest.approx(t**2 * pen(1.0), rel=1e-5)
    manual = 1.5 * sum(float((fisher[k] * d[k] ** 2).sum()) for k in star)
    assert pen(1.0) == pytest.approx(manual, rel=1e-5)
    with pytest.raises(ValueError):
        ewc_penalty(star, [(fisher, star)], lam=-1.0)


def test_merged_ewc_anchors_give_the_same_penalty_and_gradient():
    g = torch.Generator().manual_seed(1)
    shapes = {"a": (6, 4), "b": (3,)}
    anchors = []
    for _k in range(4):
        fisher = {n: torch.rand(s, generator=g, dtype=torch.float64) for n, s in shapes.items()}
        fisher["a"][0] = 0.0  # entries no anchor constrains
        anchors.append(
            (
                fisher,
                {n: torch.randn(s, generator=g, dtype=torch.float64) for n, s in shapes.items()},
            )
        )
    A, m, c = merge_ewc_anchors(anchors)
    assert torch.all(m["a"][0] == 0) and torch.all(A["a"][0] == 0)
    theta = {
        n: torch.randn(s, generator=g, dtype=torch.float64, requires_grad=True)
        for n, s in shapes.items()
    }
    full = ewc_penalty(theta, anchors, lam=7.0)
    merged = ewc_penalty(theta, [(A, m)], lam=7.0) + 3.5 * c
    assert float(merged) == pytest.approx(float(full), rel=1e-12)
    g_full = torch.autograd.grad(full, list(theta.values()))
    g_merged = torch.autograd.grad(merged, list(theta.values()))
    for a, b in zip(g_full, g_merged):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        merge_ewc_anchors([])


def test_ewc_strategy_penalty_is_the_sum_over_its_anchors():
    tasks = _permuted_stream(n_tasks=3, n=100)
    s = EWCStrategy(lr=1e-2, lam=10.0, fisher_samples=40)
    train_sequentially(tasks, s, epochs=1, batch_size=50, hidden=(8,), eval_every=1000)
    with torch.no_grad():
        for p in s.model.parameters():
            p.add_(0.1)
    expected = ewc_penalty(dict(s.model.named_parameters()), s.anchors, 10.0)
    assert float(s.penalty()) == pytest.approx(float(expected), rel=1e-5) and float(expected) > 0


def test_ewc_stores_one_anchor_per_task_and_refuses_continuous_stream():
    tasks = _permuted_stream(n_tasks=2, n=100)
    s = EWCStrategy(lr=1e-2, lam=10.0, fisher_samples=40)
    train_sequentially(tasks, s, epochs=1, batch_size=50, hidden=(8,), eval_every=1000)
    assert len(s.anchors) == 2
    assert all(float(f.min()) >= 0 for fisher, _ in s.anchors for f in fisher.values())
    stream = ContinuousPermutedStream(tasks, batch_size=20, steps_per_task=4, transition=2)
    with pytest.raises(ValueError, match="boundaries"):
        train_sequentially(stream, EWCStrategy(), hidden=(8,))


def test_ewc_fisher_sets_replace_the_training_images():
    """With ``fisher_sets``, task k's anchor is the empirical Fisher of its anchor weights on
    set k (recomputed here from the stored weights), not on its training images."""
    import copy

    from synlab.curvature import empirical_fisher_diag

    tasks = _permuted_stream(n_tasks=2, n=100)
    g = torch.Generator().manual_seed(3)
    sets = [
        (torch.randn(30, 30, generator=g), torch.randint(0, 2, (30,), generator=g)) for _ in tasks
    ]
    s = EWCStrategy(lr=1e-2, lam=10.0, fisher_samples=40, fisher_sets=sets)
    train_sequentially(tasks, s, epochs=1, batch_size=50, hidden=(8,), eval_every=1000)
    for (fisher, star), (x, y) in zip(s.anchors, sets):
        model = copy.deepcopy(s.model)
        model.load_state_dict(star)
        ref = empirical_fisher_diag(model, x, y, batch=100)
        for name in ref:
            torch.testing.assert_close(fisher[name], ref[name])
    short = EWCStrategy(lr=1e-2, lam=10.0, fisher_sets=sets[:1])
    with pytest.raises(ValueError, match="fisher_sets has 1 sets; task 1 needs one"):
        train_sequentially(tasks, short, epochs=1, batch_size=50, hidden=(8,), eval_every=1000)


def test_continuous_stream_fills_every_row():
    tasks = _permuted_stream(n_tasks=3, n=100)
    stream = ContinuousPermutedStream(tasks, batch_size=20, steps_per_task=10, transition=4, seed=0)
    res = train_sequentially(stream, DeterministicStrategy(lr=1e-2), hidden=(8,), eval_every=5)
    assert res.accuracy.shape == (3, 3) and np.all(res.accuracy > 0)
    assert res.curve_step[-1] == 30
    np.testing.assert_array_equal(res.task_ends, [10, 20, 30])


def test_joint_training_upper_bounds_sequential():
    tasks = _permuted_stream(n_tasks=3, n=300)
    kw = dict(epochs=5, batch_size=50, hidden=(32,))
    joint = train_jointly(tasks, DeterministicStrategy(lr=1e-2), **kw)
    others = [
        DeterministicStrategy(lr=1e-2),
        PresynapticStrategy(0.2, p_up=0.2, p_down=0.02, g_lim=1e-3, p_freeze=0.9, test_samples=5),
        EWCStrategy(lr=1e-2, lam=100.0, fisher_samples=100),
        BGDStrategy(eta=10.0, mc_samples=2, test_samples=2),
    ]
    seq = {
        s.name: train_sequentially(tasks, s, eval_every=1000, **kw).average_accuracy for s in others
    }
    assert joint.min() > 0.8
    assert all(joint.mean() > v for v in seq.values()), (joint.mean(), seq)
    assert joint.mean() > seq["deterministic"] + 0.1  # plain sequential training forgets


def test_bgd_update_closed_forms():
    mu, sigma = torch.tensor([0.3, -0.2]), torch.tensor([0.1, 0.05])
    eps = torch.randn(4, 2)
    # gradients uncorrelated with eps (constant): sigma unchanged, mean moves by -eta sigma^2 g
    grads = torch.tensor([1.0, -2.0]).expand(4, 2)
    eps0 = eps - eps.mean(0)
    new_mu, new_sigma = bgd_update(mu, sigma, grads.clone(), eps0, eta=2.0)
    torch.testing.assert_close(new_mu, mu - 2.0 * sigma**2 * torch.tensor([1.0, -2.0]))
    torch.testing.assert_close(new_sigma, sigma, atol=1e-6, rtol=0)


def test_bgd_sigma_shrinks_where_gradients_are_consistent():
    # quadratic loss 1/2 a theta^2 with curvature a = (50, 0): consistent gradients on coordinate 0 only
    a = torch.tensor([50.0, 0.0])
    mu, sigma = torch.tensor([1.0, 1.0]), torch.tensor([0.1, 0.1])
    g = torch.Generator().manual_seed(0)
    history = [sigma.clone()]
    signs = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    for _ in range(20):
        eps = signs * torch.randn(1, 2, generator=g).abs()  # antithetic: E[eps] = 0 exactly
        theta = mu + sigma * eps
        mu, sigma = bgd_update(mu, sigma, a * theta, eps)
        history.append(sigma.clone())
    h = torch.stack(history)
    assert torch.all(h[1:, 0] < h[:-1, 0])  # shrinks monotonically on the curved coordinate
    torch.testing.assert_close(h[:, 1], torch.full((21,), 0.1))  # untouched on the flat one
    assert torch.all(sigma > 0)


def test_bgd_strategy_learns_a_task():
    tasks = _permuted_stream(n_tasks=1)
    s = BGDStrategy(eta=10.0, sigma_init=0.06, mc_samples=2, test_samples=2)
    res = train_sequentially(tasks, s, epochs=3, batch_size=20, hidden=(16,), eval_every=1000)
    assert res.accuracy[0, 0] > 0.8
    assert s.stats()["mean_sigma"] < 0.06


def test_random_search_reproducible_and_in_range():
    space = {
        "lr": ("log", 1e-4, 1e-1),
        "p": ("uniform", 0.2, 0.4),
        "k": ("int", 1, 3),
        "opt": ("choice", ["a", "b"]),
    }
    a, b = random_search(space, 20, seed=3), random_search(space, 20, seed=3)
    assert a == b and a != random_search(space, 20, seed=4)
    assert all(
        1e-4 <= t["lr"] <= 1e-1
        and 0.2 <= t["p"] <= 0.4
        and t["k"] in (1, 2, 3)
        and t["opt"] in "ab"
        for t in a
    )
    with pytest.raises(ValueError):
        random_search({"x": ("normal", 0, 1)}, 1, 0)


def test_merge_and_validation_split():
    tasks = _permuted_stream(n_tasks=2, n=100)
    m = merge_tasks(tasks)
    assert len(m.y_train) == 200 and len(m.y_test) == 400
    v = validation_split(tasks[0], 30)
    assert len(v.y_test) == 30 and len(v.y_train) == 70
    # validation images come from the training set, not the test set
    assert any(torch.equal(v.x_test[0], row) for row in tasks[0].x_train)
    s = DeterministicStrategy()
    s.setup([30, 4, 2], "cpu")
    assert 0 <= strategy_accuracy(s, v.x_test, v.y_test) <= 1


def test_bgd_batched_step_equals_sequential_step():
    torch.manual_seed(0)
    x, y = torch.randn(16, 6), torch.randint(0, 3, (16,))
    a = BGDStrategy(eta=5.0, sigma_init=0.1, mc_samples=4, batched=True)
    b = BGDStrategy(eta=5.0, sigma_init=0.1, mc_samples=4, batched=False)
    torch.manual_seed(1)
    a.setup([6, 8, 3], "cpu")
    torch.manual_seed(1)
    b.setup([6, 8, 3], "cpu")
    assert a._batchable()
    for step in range(3):
        torch.manual_seed(10 + step)
        la = a.train_step(x, y)
        torch.manual_seed(10 + step)
        lb = b.train_step(x, y)
        assert la == pytest.approx(lb, rel=1e-5)
    for ma, mb, sa, sb in zip(a.mu, b.mu, a.sigma, b.sigma):
        assert torch.allclose(ma, mb, atol=1e-6) and torch.allclose(sa, sb, atol=1e-7)
    assert not torch.allclose(a.sigma[0], torch.full_like(a.sigma[0], 0.1))  # σ moved


def test_lifelong_units_depend_only_on_their_own_method():
    """Retuning one method's hyperparameters leaves the other methods' stored table units fresh."""
    import json
    from dataclasses import replace

    from synlab.experiments import get_experiment
    from synlab.results import _config_json

    exp = get_experiment("schug_lifelong_table")
    cfg = exp.make_config("full")
    hyper = {k: dict(v) for k, v in cfg.hyper.items()}
    hyper["bgd"] = {
        "split": dict(eta=2.0, sigma_init=0.03, mc_samples=10),
        "permuted": hyper["bgd"]["permuted"],
    }
    retuned = replace(cfg, hyper=hyper, seeds=(1, 2, 3, 4))
    for method, same in [("presynaptic", True), ("ewc", True), ("bgd", False)]:
        unit = {"dataset": "split_mnist", "method": method, "seed": 2019}
        a, b = (
            json.dumps(exp.unit_config(_config_json(c), unit), sort_keys=True)
            for c in (cfg, retuned)
        )
        assert (a == b) is same, method
    changed = replace(cfg, batch_size=50)  # a shared setting: every unit depends on it
    unit = {"dataset": "split_mnist", "method": "presynaptic", "seed": 2019}
    assert exp.unit_config(_config_json(cfg), unit) != exp.unit_config(_config_json(changed), unit)


def test_tuning_is_trial_major_and_its_budget_can_grow():
    import json
    from dataclasses import replace

    from synlab.continual import random_search
    from synlab.experiments import get_experiment
    from synlab.results import _config_json

    exp = get_experiment("schug_tuning")
    cfg = exp.make_config("full")
    units = exp.units(cfg)
    per_round = len(cfg.datasets) * len(cfg.methods)
    assert len(units) == cfg.n_trials * per_round
    assert {u["trial"] for u in units[:per_round]} == {0} and {
        u["trial"] for u in units[-per_round:]
    } == {cfg.n_trials - 1}
    # draw k of the seeded search does not depend on the budget
    space = cfg.space["bgd"]
    assert random_search(space, 5, 0)[:3] == random_search(space, 3, 0)
    bigger = replace(cfg, n_trials=30, methods=cfg.methods[:2])
    space2 = {k: dict(v) if isinstance(v, dict) else v for k, v in cfg.space.items()}
    space2["ewc"] = {"lr": ("log", 1e-5, 1e-3), "lam": ("log", 1.0, 1e5)}
    retuned = replace(cfg, space=space2)
    unit = {"dataset": "permuted_mnist", "method": "bgd", "trial": 4}
    part = lambda c, u: json.dumps(exp.unit_config(_config_json(c), u), sort_keys=True)  # noqa: E731
    assert part(cfg, unit) == part(bigger, unit) == part(retuned, unit)
    ewc = dict(unit, method="ewc")
    assert part(cfg, ewc) != part(retuned, ewc)


def test_tuning_rounds_done_reads_complete_rounds_only(tmp_path, monkeypatch):
    from dataclasses import replace

    from synlab.experiments import EXPERIMENTS, get_experiment
    from synlab.experiments import schug2021_lifelong as L
    from synlab.results import run_experiment

    small = replace(
        L.tuning_config("full"),
        datasets=("split_mnist",),
        methods=("presynaptic", "ewc"),
        n_trials=3,
    )
    fake = lambda cfg, unit, engine="autograd", checkpoint=None: {
        "validation_accuracy": 0.5 + 0.1 * unit["trial"] + (unit["method"] == "ewc") * 0.01,  # noqa: E731
        "params": {"trial": unit["trial"]},
    }
    exp = replace(get_experiment("schug_tuning"), make_config=lambda profile: small, run_unit=fake)
    monkeypatch.setitem(EXPERIMENTS, "schug_tuning", exp)
    monkeypatch.setattr(L, "tuning_config", lambda profile: small)
    assert L.tuning_rounds_done(root=tmp_path) is None
    run_experiment("schug_tuning", "full", root=tmp_path, only={"trial": 0}, progress=False)
    run_experiment(
        "schug_tuning", "full", root=tmp_path, only={"trial": 2}, progress=False
    )  # round 1 missing
    run_experiment(
        "schug_tuning", "full", root=tmp_path, only={"trial": 1, "method": "ewc"}, progress=False
    )
    done = L.tuning_rounds_done(root=tmp_path)
    assert sorted((r.unit["method"], r.unit["trial"]) for r in done.records) == [
        ("ewc", 0),
        ("presynaptic", 0),
    ]
    run_experiment("schug_tuning", "full", root=tmp_path, only={"trial": 1}, progress=False)
    best = L.best_trials(L.tuning_rounds_done(root=tmp_path))
    assert {k: v["trial"] for k, v in best.items()} == {
        ("split_mnist", "presynaptic"): 2,
        ("split_mnist", "ewc"): 2,
    }


def test_tuning_rounds_done_per_data_set(tmp_path, monkeypatch):
    """One data set's search can be read at its own complete rounds while the other's still runs."""
    from dataclasses import replace

    from synlab.experiments import EXPERIMENTS, get_experiment
    from synlab.experiments import schug2021_lifelong as L
    from synlab.results import run_experiment

    small = replace(
        L.tuning_config("full"),
        datasets=("split_mnist", "permuted_mnist"),
        methods=("ewc",),
        n_trials=2,
    )
    fake = lambda cfg, unit, engine="autograd", checkpoint=None: {
        "validation_accuracy": 0.5 + 0.1 * unit["trial"],
        "params": {"t": unit["trial"]},
    }  # noqa: E731
    exp = replace(get_experiment("schug_tuning"), make_config=lambda profile: small, run_unit=fake)
    monkeypatch.setitem(EXPERIMENTS, "schug_tuning", exp)
    monkeypatch.setattr(L, "tuning_config", lambda profile: small)
    run_experiment(
        "schug_tuning", "full", root=tmp_path, only={"dataset": "split_mnist"}, progress=False
    )
    assert L.tuning_rounds_done(root=tmp_path) is None  # permuted has no round yet
    split = L.tuning_rounds_done(root=tmp_path, dataset="split_mnist")
    assert sorted(r.unit["trial"] for r in split.records) == [0, 1]
    assert L.tuning_rounds_done(root=tmp_path, dataset="permuted_mnist") is None
    with pytest.raises(ValueError, match="searches on"):
        L.tuning_rounds_done(root=tmp_path, dataset="split_fashion")


def test_split_defaults_are_the_committed_searchs_best():
    """The split protocol's EWC, BGD and ablation parameters are the best trials of the committed
    Split MNIST search (not a hidden choice): they change only with that search."""
    from synlab.experiments import schug2021_lifelong as L

    rounds = L.tuning_rounds_done("full", dataset="split_mnist")
    assert rounds is not None, "the Split MNIST search is committed in results/full/schug_tuning"
    assert len({r.unit["trial"] for r in rounds.records}) == L.tuning_config("full").n_trials
    best = L.best_trials(rounds)
    hyper = L._default_hyper()
    for method in ("stochastic", "ghost", "ewc", "bgd"):
        assert hyper[method]["split"] == best[("split_mnist", method)]["params"], method
    # the full model keeps the authors' values; the permuted protocol is not tuned yet
    assert hyper["presynaptic"]["split"]["p_up"] == 0.0520


def test_permuted_defaults_follow_the_committed_permuted_search():
    """A method's permuted protocol runs untuned until its whole Permuted MNIST search (20 trials) is
    committed; from then on with that search's best trial. The full model keeps the authors' values."""
    from synlab.experiments import schug2021_lifelong as L

    done = L.method_searches_done("permuted_mnist")
    hyper, untuned = L._default_hyper(), L._untuned_hyper()
    for method in ("stochastic", "ghost", "ewc", "bgd"):
        if method in done:
            assert (
                hyper[method]["permuted"]
                == L.best_trials(done[method])[("permuted_mnist", method)]["params"]
            ), method
        else:
            assert (
                method not in L._TUNED_PERMUTED
                and hyper[method]["permuted"] == untuned[method]["permuted"]
            ), method
    assert (
        hyper["presynaptic"]["permuted"] == untuned["presynaptic"]["permuted"]
    )  # the authors' values
    assert set(L._TUNED_PERMUTED) <= {"stochastic", "ghost", "ewc", "bgd"}


def test_method_searches_done_needs_every_trial(tmp_path, monkeypatch):
    from dataclasses import replace

    from synlab.experiments import EXPERIMENTS, get_experiment
    from synlab.experiments import schug2021_lifelong as L
    from synlab.results import run_experiment

    small = replace(
        L.tuning_config("full"),
        datasets=("split_mnist", "permuted_mnist"),
        methods=("ewc", "bgd"),
        n_trials=2,
    )
    fake = lambda cfg, unit, engine="autograd", checkpoint=None: {
        "validation_accuracy": 0.5 + 0.1 * unit["trial"],
        "params": {"t": unit["trial"]},
    }  # noqa: E731
    monkeypatch.setitem(
        EXPERIMENTS,
        "schug_tuning",
        replace(get_experiment("schug_tuning"), make_config=lambda profile: small, run_unit=fake),
    )
    monkeypatch.setattr(L, "tuning_config", lambda profile: small)
    run_experiment(
        "schug_tuning",
        "full",
        root=tmp_path,
        only={"dataset": "permuted_mnist", "method": "ewc"},
        progress=False,
    )
    run_experiment(
        "schug_tuning",
        "full",
        root=tmp_path,
        only={"dataset": "permuted_mnist", "trial": 0},
        progress=False,
    )
    done = L.method_searches_done("permuted_mnist", root=tmp_path)
    assert sorted(done) == ["ewc"] and len(done["ewc"].records) == 2  # bgd has 1 of 2 trials
    assert L.method_searches_done("split_mnist", root=tmp_path) == {}
    with pytest.raises(ValueError, match="searches on"):
        L.method_searches_done("split_fashion", root=tmp_path)


def test_bgd_mlp_step_matches_autograd_and_bgd_update():
    """The hand-written BGD step of M members equals autograd through cross-entropy followed by
    bgd_update, member by member (float64)."""
    g = torch.Generator().manual_seed(2)
    M, S, B, sizes = 2, 3, 7, [5, 4, 3, 4]
    dt = torch.float64
    mu = [torch.randn(M, o, i, generator=g, dtype=dt) for i, o in zip(sizes[:-1], sizes[1:])]
    sigma = [
        0.1 + torch.rand(M, o, i, generator=g, dtype=dt) for i, o in zip(sizes[:-1], sizes[1:])
    ]
    eps = [torch.randn(M, S, *m.shape[1:], generator=g, dtype=dt) for m in mu]
    x = torch.randn(M, B, sizes[0], generator=g, dtype=dt)
    y = torch.randint(0, sizes[-1], (M, B), generator=g)
    eta = torch.tensor([0.7, 1.9], dtype=dt).view(M, 1, 1)
    new_mu, new_sigma, loss = bgd_mlp_step(mu, sigma, eps, x, y, eta)
    for k in range(M):
        W = [(m[k] + s[k] * e[k]).requires_grad_() for m, s, e in zip(mu, sigma, eps)]
        h = x[k].expand(S, B, sizes[0])
        for l, w in enumerate(W):
            h = torch.bmm(h, w.transpose(1, 2))
            h = torch.relu(h) if l < len(W) - 1 else h
        losses = (
            torch.nn.functional.cross_entropy(
                h.reshape(S * B, -1), y[k].repeat(S), reduction="none"
            )
            .view(S, B)
            .mean(1)
        )
        grads = torch.autograd.grad(losses.sum(), W)
        assert float(loss[k]) == pytest.approx(float(losses.mean()), rel=1e-12)
        for l in range(len(W)):
            m_ref, s_ref = bgd_update(mu[l][k], sigma[l][k], grads[l], eps[l][k], float(eta[k]))
            torch.testing.assert_close(new_mu[l][k], m_ref, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(new_sigma[l][k], s_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("batched", [False, True])
def test_bgd_batch_sum_differentiates_the_summed_loss(batched):
    """``batch_sum`` (Zeno et al.'s code: the mean loss's gradient times the batch size) is BGD
    on the batch's summed loss: one step equals bgd_update on autograd's gradients of
    ``cross_entropy(reduction="sum")`` at the same weight samples, for the σ step as for the mean,
    and differs from the default (mean) step; the hand-written step's ``scale`` agrees."""
    torch.manual_seed(0)
    x, y = torch.randn(16, 6, dtype=torch.float64), torch.randint(0, 3, (16,))
    s = BGDStrategy(eta=0.05, sigma_init=0.1, mc_samples=4, batch_sum=True, batched=batched)
    torch.manual_seed(1)
    s.setup([6, 8, 3], "cpu")
    s.model.double()
    s.mu = [m.double() for m in s.mu]
    s.sigma = [t.double() for t in s.sigma]
    mu0, sigma0 = list(s.mu), list(s.sigma)
    torch.manual_seed(7)
    s.train_step(x, y)
    torch.manual_seed(7)  # the same noise, drawn in the strategy's order
    E = [[torch.randn_like(m) for m in mu0] for _ in range(4)]
    grads = [[] for _ in mu0]
    for e in E:
        W = [(m + sd * ek).requires_grad_() for m, sd, ek in zip(mu0, sigma0, e)]
        assert len(W) == 2  # sizes [6, 8, 3]: one hidden ReLU layer
        out = torch.relu(x @ W[0].T) @ W[1].T
        loss = torch.nn.functional.cross_entropy(out, y, reduction="sum")
        for k, g in enumerate(torch.autograd.grad(loss, W)):
            grads[k].append(g)
    for k in range(len(mu0)):
        eps = torch.stack([e[k] for e in E])
        m_ref, s_ref = bgd_update(mu0[k], sigma0[k], torch.stack(grads[k]), eps, eta=0.05)
        torch.testing.assert_close(s.mu[k], m_ref, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(s.sigma[k], s_ref, rtol=1e-9, atol=1e-12)
        m_mean, s_mean = bgd_update(mu0[k], sigma0[k], torch.stack(grads[k]) / 16, eps, eta=0.05)
        assert not torch.allclose(s.sigma[k], s_mean)  # not the default's step
    # the hand-written step: scale = B on the mean loss is the same update
    mu_b = [m[None] for m in mu0]
    sig_b = [t[None] for t in sigma0]
    eps_b = [torch.stack([e[k] for e in E])[None] for k in range(len(mu0))]
    eta = torch.full((1, 1, 1), 0.05, dtype=torch.float64)
    new_mu, new_sigma, _ = bgd_mlp_step(mu_b, sig_b, eps_b, x[None], y[None], eta, 16.0)
    for k in range(len(mu0)):
        torch.testing.assert_close(new_mu[k][0], s.mu[k], rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(new_sigma[k][0], s.sigma[k], rtol=1e-9, atol=1e-12)


def test_compiled_bgd_follows_the_autograd_step():
    """BGD with its step compiled (compile=True) draws the same noise and learns the same:
    accuracy matrices agree up to float rounding on a tiny stream; ``engine`` says which ran."""
    tasks = _permuted_stream(n_tasks=2, n=200)
    kw = dict(epochs=1, batch_size=40, hidden=(8,), eval_every=1000)
    runs = {
        c: train_sequentially(
            tasks, BGDStrategy(1.0, 0.3, mc_samples=3, test_samples=3, compile=c), **kw
        )
        for c in (False, True)
    }
    np.testing.assert_allclose(runs[True].accuracy, runs[False].accuracy, atol=0.011)
    assert (
        runs[True].engine == "fused step, torch.compile"
        and runs[False].engine == "autograd, samples batched"
    )


def test_a_lifelong_unit_depends_on_its_own_method_and_protocol_only():
    """Adopting one method's tuned values for one protocol leaves every other unit fresh (and only
    that method's units of that protocol stale)."""
    import copy

    from synlab.experiments import schug2021_lifelong as L
    from synlab.results import _config_json

    f = L._method_unit_config
    for cfg in (_config_json(L.lifelong_config("full")), _config_json(L.continuous_config("full"))):
        for protocol in ("split", "permuted"):
            changed = copy.deepcopy(cfg)
            changed["hyper"]["bgd"][protocol]["eta"] = 123.0
            units = (
                [{"method": "bgd", "seed": 2019}, {"method": "presynaptic", "seed": 2019}]
                if "datasets" not in cfg
                else [
                    {"dataset": d, "method": m, "seed": 2019}
                    for d in cfg["datasets"]
                    for m in cfg["methods"]
                ]
            )
            for unit in units:
                own = unit["method"] == "bgd" and unit.get("dataset", "permuted_mnist").startswith(
                    protocol
                )
                assert (f(cfg, unit) != f(changed, unit)) == own, (protocol, unit)


def test_tuning_reference_scores_the_authors_values_on_the_search_objective(tmp_path):
    """The reference unit runs the full model with the search's base values (the authors' code)
    on the same validation streams as the trials."""
    from synlab.experiments import schug2021_lifelong as L
    from synlab.results import run_experiment

    res = run_experiment("schug_tuning_reference", "quick", root=tmp_path, progress=False)
    (rec,) = res.records
    assert rec.unit == {"dataset": "permuted_mnist", "method": "presynaptic"}
    assert rec.result["params"] == dict(lr=0.01, **L._PRESYN_RULE)
    assert 0.0 < rec.result["validation_accuracy"] <= 1.0
