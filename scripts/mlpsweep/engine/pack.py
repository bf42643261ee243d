"""Training a pack: K runs of one shape, each exactly as if it were trained alone.

The host side of the engine: epoch orders, the chunked training loop with its stop checks,
validation, and per member the history, divergence, early stopping (Keras's
`EarlyStopping` rules) and the state that a checkpoint keeps. Members may differ in seed,
learning rate, momentum, L2 factor, dropout rate, class weights, epochs and early stopping;
a member that is done (finished, stopped early, diverged) stops updating while the others go on.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from . import network
from .step import Chunk, PackData, PackState, StepSpec, compiled

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
# Rows per prediction call at most (block_rows: fewer for shorter parts), the same for every pack
# size. Every member's rows are padded to a whole block, so a block much longer than a validation
# set makes most of an epoch's validation padding: at 1024 rows, 240 members with 132 validation
# rows each spent 0.24 s of a 0.54 s epoch on it, at 256 rows 0.09 s of 0.37 s (bench/EEG.md); the
# logits were bit-identical.
PREDICT_ROWS = 256
CALL_ROWS = 16  # a prediction call's own cost, in rows of work (block_rows)
KEEP_BYTES = 64 * 2**20  # the most a pack keeps on the device of rows it predicts every epoch
# Members whose evaluation losses are computed at once (float64 temporaries of this many members' rows).
EVAL_MEMBERS = 256


@dataclass
class EarlyStopping:
    """keras.callbacks.EarlyStopping's rules (mode from the monitor's name, baseline None,
    start_from_epoch 0), as plain data so a checkpoint can keep it."""

    patience: int = 0
    monitor: str = "val_loss"
    min_delta: float = 0.0
    restore_best_weights: bool = True
    best: float | None = None
    best_epoch: int | None = None  # 0-based, as Keras counts
    wait: int = 0

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        # MonitorCallback._is_improvement: the delta counts against the new value
        if self.monitor.endswith("loss"):
            return value + abs(self.min_delta) < self.best
        return value - abs(self.min_delta) > self.best

    def on_epoch_end(self, epoch: int, value: float) -> tuple[bool, bool]:
        """(keep these weights as the best, stop training) after 0-based `epoch`."""
        self.wait += 1
        if self._improved(value):
            self.best, self.best_epoch = value, epoch
            self.wait = 0
            return True, False
        return False, self.wait >= self.patience and epoch > 0

    def state(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}


@dataclass
class Member:
    """One run inside a pack: its data, settings and training record."""

    seed: int
    x_train: np.ndarray
    y_train: np.ndarray  # one-hot float32
    x_val: np.ndarray
    y_val: np.ndarray
    epochs: int
    hyper: dict  # learning_rate, momentum, l2, dropout
    class_weights: np.ndarray | None = None  # per class, or None for equal weights
    early_stopping: dict | None = None  # patience, monitor, min_delta, restore_best_weights
    initial_weights: list[np.ndarray] | None = None
    # training record (kept by checkpoints)
    epoch: int = 0
    status: str = "running"  # running | finished | stopped_early | diverged
    history: list[dict] = field(default_factory=list)
    fit_seconds: float = 0.0
    stopping: EarlyStopping | None = None
    best_weights: list[np.ndarray] | None = None

    def __post_init__(self):
        es = self.early_stopping or {}
        self.stopping = self.stopping or EarlyStopping(
            **{k: es[k] for k in ("patience", "monitor", "min_delta", "restore_best_weights") if k in es}
        )

    @property
    def active(self) -> bool:
        return self.status == "running" and self.epoch < self.epochs


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The row order of one epoch of one member, keyed by (seed, epoch) alone: a resumed or
    re-packed run sees exactly the batches it would have seen."""
    return np.random.default_rng([int(seed), int(epoch), 0x6F7264]).permutation(n).astype(np.int32)


def epoch_orders(n: int, seeds, epochs, offsets) -> np.ndarray:
    """(K, n) int32: member k's epoch order (`epoch_order`) shifted by its rows' offset, filled in place."""
    out = np.empty((len(seeds), n), np.int32)
    for k, (seed, epoch) in enumerate(zip(seeds, epochs)):
        out[k] = epoch_order(n, seed, epoch)
    out += np.asarray(offsets, np.int32)[:, None]
    return out


# Next epoch's orders are drawn here while the device trains the current epoch: at 4,096 members of
# 20,000 rows drawing them takes about 1 s, as long as an epoch's steps on a GPU (bench/GPU.md).
_ORDERS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlpsweep-orders")


class Pack:
    """K members trained as one computation: `state` (weights, optimizer state) and `data` on the
    device, stacked over the members on axis 0."""

    def __init__(
        self,
        shape: network.Shape,
        optimizer: str,
        batch_size: int,
        members: list[Member],
        steps_per_execution: int = 64,
    ):
        n_train = {len(m.y_train) for m in members}
        if len(n_train) != 1:
            raise ValueError(f"members of a pack need equal numbers of training rows, got {sorted(n_train)}")
        self.members = members
        self.n_train = n_train.pop()
        self.batch_size = batch_size
        self.steps_per_execution = max(1, int(steps_per_execution))
        spec = StepSpec(
            shape,
            optimizer,
            batch_size,
            class_weights=any(m.class_weights is not None for m in members),
            l2=any(m.hyper.get("l2", 0.0) > 0 for m in members),
            momentum=any(m.hyper.get("momentum", 0.0) > 0 for m in members),
        )
        self.compiled = compiled(spec)
        self.spec = spec
        dev = self.compiled.to_device
        K = len(members)
        drawn: dict[int, list[np.ndarray]] = {}  # members of one seed start alike (permutation runs of a run)
        for m in members:
            if m.initial_weights is None and m.seed not in drawn:
                drawn[m.seed] = network.initial_weights(shape, m.seed)
        weights = network.stack(
            [m.initial_weights if m.initial_weights is not None else drawn[m.seed] for m in members]
        )
        rule = self.compiled.rule
        trainable = [w for w, t in zip(weights, shape.trainable()) if t]
        initial_slots = [tuple(np.full(w.shape, rule.slot_init, np.float32) for _ in rule.slots) for w in trainable]
        self._pending: dict | None = None  # host copies of the state while checkpointed members are restored
        self._next_orders: tuple[tuple, Future] | None = None  # (epochs, orders drawn ahead)
        self.state = PackState(
            weights=tuple(dev(w) for w in weights),
            slots=tuple(tuple(dev(s) for s in slots) for slots in initial_slots),
            steps=dev(np.zeros(K, np.int32)),
            shared=dev(np.ones(K, np.float32)),  # Nadam's u_product starts at 1
        )
        # one copy of each distinct set of training rows, and of labels: members that share their rows
        # (one split seed) share them on the device too, as do label-permutation runs of one split
        # (their rows, not their labels); member k's rows start at self.offsets[k], its labels'
        # at self.offsets[k] + its label shift
        rows = _blocks([m.x_train for m in members])
        labels = _blocks([m.y_train for m in members])
        # blocks padded to a power of two (never past the blocks of one per distinct pair of rows and
        # labels, the layout before): a job's packs then come in few shapes, each traced once
        pairs = len({(id(m.x_train), id(m.y_train)) for m in members})
        label_blocks = labels.distinct + [np.zeros_like(labels.distinct[0])] * _padding(len(labels.distinct), pairs)
        self.offsets = np.array([rows.index[k] * self.n_train for k in range(K)], np.int64)
        shift = np.array([(labels.index[k] - rows.index[k]) * self.n_train for k in range(K)], np.int32)
        n_classes = members[0].y_train.shape[1]
        equal = np.ones(n_classes, np.float32)
        cw = np.stack([equal if m.class_weights is None else m.class_weights for m in members]).astype(np.float32)
        self.data = PackData(
            x=self.compiled.rows_on_device(rows.distinct, _padding(len(rows.distinct), pairs)),
            y=dev(np.concatenate(label_blocks).astype(np.float32, copy=False)),
            labels=dev(np.concatenate([y.argmax(axis=1) for y in label_blocks]).astype(np.int32)),
            class_weights=dev(cw),
            seeds=np.array([m.seed for m in members], np.int64).astype(np.uint32),
            label_shift=dev(shift),
        )
        self.trace_seconds = 0.0  # compiling the step, outside the epochs' timed device time
        self.validation_seconds = 0.0  # of the epochs' timed time, the validation after each epoch
        self.last_validation: dict | None = None  # the latest epoch's evaluate() of the validation rows
        self._kept: tuple | None = None  # (the members' arrays, their blocks on the device): predict's keep
        self._warm: set = set()
        self.hyper = {
            key: dev(np.array([m.hyper.get(key, 0.0) for m in members], np.float32))
            for key in ("learning_rate", "momentum", "l2", "dropout")
        }

    # ------------------------------------------------------------ state for checkpoints

    @property
    def state(self) -> PackState:
        """Weights, optimizer slots and step counts on the device (members restored from a
        checkpoint are sent there on first use, all at once)."""
        if self._pending is not None:
            dev, host = self.compiled.to_device, self._pending
            self._pending = None
            self._state = PackState(
                weights=tuple(dev(w) for w in host["weights"]),
                slots=tuple(tuple(dev(s) for s in ss) for ss in host["slots"]),
                steps=dev(host["steps"]),
                shared=dev(host["shared"]),
            )
        return self._state

    @state.setter
    def state(self, value: PackState) -> None:
        self._pending = None
        self._state = value

    @property
    def weights(self) -> tuple:
        """The stacked weights on the device, in `model.get_weights()` order."""
        return self.state.weights

    def state_arrays(self) -> dict[str, np.ndarray]:
        out = {f"w{i}": np.asarray(w) for i, w in enumerate(self.state.weights)}
        for i, slots in enumerate(self.state.slots):
            for j, s in enumerate(slots):
                out[f"s{i}_{j}"] = np.asarray(s)
        out["steps"] = np.asarray(self.state.steps)
        out["shared"] = np.asarray(self.state.shared)
        return out

    def load_member_state(self, k: int, arrays: dict[str, np.ndarray], kk: int) -> None:
        """Set member k's weights and optimizer state from slice kk of checkpoint arrays. The
        state is copied to the host once for all the members restored (not once per member:
        at 4,096 members that would be 4,096 copies of every stacked array each way)."""
        if self._pending is None:
            state = self._state
            self._pending = {
                "weights": [np.array(w) for w in state.weights],
                "slots": [[np.array(s) for s in ss] for ss in state.slots],
                "steps": np.array(state.steps),
                "shared": np.array(state.shared),
            }
        host = self._pending
        for i, w in enumerate(host["weights"]):
            w[k] = arrays[f"w{i}"][kk]
        for i, ss in enumerate(host["slots"]):
            for j, s in enumerate(ss):
                s[k] = arrays[f"s{i}_{j}"][kk]
        host["steps"][k] = arrays["steps"][kk]
        host["shared"][k] = arrays["shared"][kk]

    def member_weights(self, k: int) -> list[np.ndarray]:
        return network.member(self.state.weights, k)

    def _host_weights(self):
        """A function giving member k's weights (copies) from one host copy of the stacked
        weights, made on first use: slicing the device arrays member by member costs a
        transfer per member and weight (1 s for 240 members on a CPU)."""
        host = []

        def weights_of(k: int) -> list[np.ndarray]:
            if not host:
                host.extend(np.asarray(w) for w in self.state.weights)
            return [h[k].copy() for h in host]

        return weights_of

    # ------------------------------------------------------------ training

    def train_epoch(self, should_stop: Callable[[], bool]) -> bool:
        """One epoch of every active member (each its own next epoch); False if stopped on a signal
        (the members keep the state of their last completed epoch)."""
        members = self.members
        active = np.array([m.active for m in members])
        if not active.any():
            return True
        saved = self.state
        # rows of the members' concatenated training data, in each member's own epoch order
        orders = self.compiled.to_device(self.orders_of(tuple(m.epoch for m in members)))
        self._draw_ahead(tuple(m.epoch + 1 for m in members), active)
        epochs = np.array([m.epoch for m in members], np.int64).astype(np.uint32)
        chunk = Chunk(orders, epochs, row0=np.int32(0), step0=np.int32(0), n_steps=np.int32(1), active=active.copy())
        loss_sum = np.zeros(len(members), np.float32)
        hits = np.zeros(len(members), np.int64)
        bs = self.batch_size
        n_full, tail = divmod(self.n_train, bs)
        calls = [(bs, s, min(self.steps_per_execution, n_full - s)) for s in range(0, n_full, self.steps_per_execution)]
        if tail:
            calls.append((tail, n_full, 1))
        seen = np.zeros(len(members), np.int64)
        self._warm_up({batch for batch, _, _ in calls}, chunk)
        t0 = time.perf_counter()
        for batch, step0, n_steps in calls:
            if should_stop():
                self.state = saved
                return False
            row0 = step0 * bs
            chunk = chunk._replace(row0=np.int32(row0), step0=np.int32(step0), n_steps=np.int32(n_steps))
            self.state, totals = self.compiled.train(batch, self.state, self.data, self.hyper, chunk)
            loss_sum = loss_sum + np.asarray(totals.loss_sum)  # float32, in batch order, as Keras's loss tracker
            hits += np.asarray(totals.hits)
            seen[chunk.active] = row0 + batch * n_steps
            # like keras.callbacks.TerminateOnNaN: a member whose loss is no longer finite stops here
            chunk = chunk._replace(active=chunk.active & np.isfinite(loss_sum))
        t_val = time.perf_counter()
        val = self.evaluate([m.x_val for m in members], [m.y_val for m in members], keep=True)
        t_end = time.perf_counter()
        self.validation_seconds += t_end - t_val
        self.last_validation = val  # what evaluating the final weights on the validation rows gives, where current
        share = (t_end - t0) / len(members)  # the device time of the epoch, split evenly
        weights_of = self._host_weights()
        for k, m in enumerate(members):
            if not active[k]:
                continue
            row = {
                "epoch": m.epoch + 1,
                "loss": _mean32(loss_sum[k], seen[k]),
                "accuracy": _mean32(hits[k], seen[k]),
                "val_loss": val["loss"][k],
                "val_accuracy": val["accuracy"][k],
                "seconds": round(share, 4),
            }
            m.history.append(row)
            m.fit_seconds += share
            m.epoch += 1
            self._end_of_epoch(k, m, row, weights_of)
        return True

    def orders_of(self, epochs: tuple) -> np.ndarray:
        """The members' epoch orders at `epochs` (drawn ahead during the previous epoch where they were)."""
        ahead, self._next_orders = self._next_orders, None
        if ahead is not None and ahead[0] == epochs:
            return ahead[1].result()
        return epoch_orders(self.n_train, [m.seed for m in self.members], epochs, self.offsets)

    def _draw_ahead(self, epochs: tuple, active: np.ndarray) -> None:
        """Draw the next epoch's orders in a thread while this epoch trains, where some member will
        train on (a member that stops then makes them unused, at no cost to the numbers)."""
        if any(e < m.epochs for e, m, a in zip(epochs, self.members, active) if a):
            seeds = [m.seed for m in self.members]
            self._next_orders = (epochs, _ORDERS.submit(epoch_orders, self.n_train, seeds, epochs, self.offsets))

    def _warm_up(self, batches: set, chunk: Chunk) -> None:
        """Trace and compile the step (per batch size) and the prediction before the epoch is
        timed: compiling is a cost per pack, not per epoch (kept in `trace_seconds`)."""
        missing = batches - self._warm
        if not missing:
            return
        t0 = time.perf_counter()
        # the shapes a call is traced for: an earlier pack of the same shapes traced it already
        shapes = (len(self.members), tuple(self.data.x.shape), tuple(self.data.y.shape), self.n_train)
        for batch in sorted(missing):  # one step whose result is dropped: built and run once, nothing changes
            if (batch, *shapes) not in self.compiled.warm:
                _, totals = self.compiled.train(batch, self.state, self.data, self.hyper, chunk)
                np.asarray(totals.loss_sum)
                self.compiled.warm.add((batch, *shapes))
        n_val = max(len(m.y_val) for m in self.members)  # the validation's block: traced here, not in the epoch
        if not self._warm and ("predict", n_val, *shapes) not in self.compiled.warm:
            self.predict([np.zeros((n_val, self.members[0].x_train.shape[1]), np.float32)] * len(self.members))
            self.compiled.warm.add(("predict", n_val, *shapes))
        self._warm |= missing
        self.trace_seconds += time.perf_counter() - t0

    def _end_of_epoch(self, k: int, m: Member, row: dict, weights_of: Callable[[int], list[np.ndarray]]) -> None:
        if not (math.isfinite(row["loss"]) and math.isfinite(row["val_loss"])):
            m.status = "diverged"
            return
        es = m.stopping
        if es.patience <= 0:
            if m.epoch >= m.epochs:
                m.status = "finished"
            return
        keep, stop = es.on_epoch_end(m.epoch - 1, row[es.monitor])
        if keep and es.restore_best_weights:
            m.best_weights = weights_of(k)
        if stop:
            m.status = "stopped_early"
        elif m.epoch >= m.epochs:
            m.status = "finished"

    def final_weights(self, k: int) -> list[np.ndarray]:
        """Member k's weights at the end of training: the best epoch's where EarlyStopping
        restores them (Keras restores them at the end of training too, not only on a stop)."""
        return self.all_final_weights([k])[0]

    def all_final_weights(self, ks: list[int] | None = None) -> list[list[np.ndarray]]:
        """final_weights of members `ks` (default all), from one host copy of the weights."""
        weights_of = self._host_weights()
        out = []
        for k in range(len(self.members)) if ks is None else ks:
            m = self.members[k]
            out.append(m.best_weights if _restores_best(m) else weights_of(k))
        return out

    def final_validation(self) -> dict | None:
        """evaluate() of the validation rows at the final weights where the last epoch's validation
        already holds it (no member ends on restored best weights); None where it must be computed."""
        if self.last_validation is None or any(_restores_best(m) for m in self.members):
            return None
        return self.last_validation

    # ------------------------------------------------------------ evaluation

    def predict(self, xs: list[np.ndarray], weights: list | None = None, keep: bool = False) -> np.ndarray:
        """Logits (K, rows, classes) of each member's rows (members padded to the longest). `keep`: the
        rows are predicted again later (the validation after every epoch): their blocks stay on the
        device where they take at most KEEP_BYTES, and are not built and sent again."""
        n = max(len(x) for x in xs)
        weights = self.state.weights if weights is None else tuple(weights)  # a list would be traced again
        key = tuple(map(id, xs))
        if keep and self._kept is not None and self._kept[0] == key:
            blocks = self._kept[1]
        else:
            blocks = self._device_blocks(xs, n)
            padded = _round_up(n, block_rows(n))  # kept: at most one PREDICT_ROWS block a member (sizing.py)
            if keep and padded <= PREDICT_ROWS and len(xs) * padded * xs[0].shape[1] * 4 <= KEEP_BYTES:
                blocks = list(blocks)
                self._kept = (key, blocks)
        out = [np.asarray(self.compiled.predict(weights, block)) for block in blocks]
        return np.concatenate(out, axis=1)[:, :n]

    def _device_blocks(self, xs: list[np.ndarray], n: int):
        """The members' rows in blocks of block_rows(n) on the device, made one at a time."""
        K, n_features, rows = len(xs), xs[0].shape[1], block_rows(n)
        sharing: dict[int, list[int]] = {}  # members that share one array are filled in one assignment
        for k, x in enumerate(xs):
            sharing.setdefault(id(x), []).append(k)
        groups = [(xs[ks[0]], ks[0] if len(ks) == 1 else np.array(ks)) for ks in sharing.values()]
        for start in range(0, max(n, 1), rows):
            block = np.zeros((K, rows, n_features), np.float32)
            for x, ks in groups:
                part = x[start : start + rows]
                block[ks, : len(part)] = part
            yield self.compiled.to_device(block)

    def evaluate(
        self, xs: list[np.ndarray], ys: list[np.ndarray], weights: list | None = None, keep: bool = False
    ) -> dict:
        """Per member: Keras's evaluation loss (mean cross-entropy plus the L2 penalty) and accuracy
        (`keep`: see predict)."""
        logits = self.predict(xs, weights, keep)
        penalty = self._l2_penalties(weights)
        n = len(ys[0]) if ys else 0
        if n and all(len(y) == n for y in ys):  # members of equal rows: computed EVAL_MEMBERS at a time
            losses, hits = [], []
            for k0 in range(0, len(ys), EVAL_MEMBERS):
                loss, hit = _cross_entropy(logits[k0 : k0 + EVAL_MEMBERS, :n], np.stack(ys[k0 : k0 + EVAL_MEMBERS]))
                losses += [float(np.float32(v)) for v in loss + penalty[k0 : k0 + EVAL_MEMBERS]]
                hits += hit.tolist()
            return {
                "loss": losses,
                "accuracy": [_mean32(h, n) for h in hits],
                "logits": [logits[k, :n] for k in range(len(ys))],
            }
        out = {"loss": [], "accuracy": [], "logits": []}
        for k, y in enumerate(ys):
            loss, hit = _cross_entropy(logits[k : k + 1, : len(y)], y[None])
            out["loss"].append(float(np.float32(loss[0] + penalty[k])) if len(y) else math.nan)
            out["accuracy"].append(_mean32(int(hit[0]), len(y)))
            out["logits"].append(logits[k, : len(y)])
        return out

    def _l2_penalties(self, weights=None) -> np.ndarray:
        """Each member's L2 penalty at `weights` (0 where no member has one: not computed then; a
        member with non-finite weights has a non-finite loss either way)."""
        if not self.spec.l2:
            return np.zeros(len(self.members))
        shape = self.spec.shape
        weights = self.state.weights if weights is None else weights
        l2 = np.asarray(self.hyper["l2"], np.float64)
        kernels = [
            np.asarray(w, np.float64) for (role, _), w in zip(shape.weight_shapes(), weights) if role == "kernel"
        ][: shape.penalized()]
        return l2 * sum((kernel**2).sum(axis=(1, 2)) for kernel in kernels) if kernels else np.zeros(len(self.members))


def _padding(n: int, most: int) -> int:
    """Zero blocks that bring n blocks up to the next power of two, at most `most` blocks in all."""
    return min(1 << max(0, n - 1).bit_length(), max(most, n)) - n


class _Distinct(NamedTuple):
    distinct: list  # each distinct array once, in order of first use
    index: list[int]  # per member, its array's place in `distinct`


def _blocks(arrays: list) -> _Distinct:
    """The distinct arrays (by identity) of the members, in an order that depends on the set alone (packs
    of the same arrays lay them out alike: CompiledPack.rows_on_device reuses them), and which one each
    member has."""
    distinct = sorted({id(a): a for a in arrays}.values(), key=id)
    places = {id(a): i for i, a in enumerate(distinct)}
    return _Distinct(distinct, [places[id(a)] for a in arrays])


def _restores_best(m: Member) -> bool:
    """Whether a member ends on its best epoch's weights (EarlyStopping's restore_best_weights)."""
    return m.stopping.patience > 0 and m.stopping.restore_best_weights and m.best_weights is not None


def _round_up(n: int, block: int) -> int:
    return max(1, -(-n // block)) * block


def block_rows(n: int) -> int:
    """Rows of each prediction block for parts of n rows: the power of two from 8 to PREDICT_ROWS that
    pads n least, a call counted as CALL_ROWS rows of work (272 rows: 5 blocks of 64, 320 rows, not 2 of
    256, 512; 36: one of 64, not 256). A few shapes, each traced once; a row's logits do not depend on
    the block it is in (bit-identical, tested)."""
    sizes = [1 << b for b in range(3, PREDICT_ROWS.bit_length()) if 1 << b <= PREDICT_ROWS]
    return min(sizes, key=lambda b: (-(-max(n, 1) // b) * (b + CALL_ROWS), -b))


def _cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per member of (members, rows, classes) logits and one-hot labels: the mean cross-entropy
    (float64, over rows) and the rows predicted right."""
    z = logits.astype(np.float64)
    log_p = z - z.max(axis=2, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=2, keepdims=True))
    ce = -(y * log_p).sum(axis=2)
    with np.errstate(invalid="ignore"):
        loss = ce.mean(axis=1) if ce.shape[1] else np.full(len(ce), math.nan)
    return loss, (z.argmax(2) == y.argmax(2)).sum(axis=1)


def _mean32(total, count: int) -> float:
    """total / count in float32, as Keras's Mean metrics compute it (NaN for no samples)."""
    return float(np.float32(total) / np.float32(count)) if count else math.nan
