"""Erlang B, Erlang C (M/M/c) and Erlang A (M/M/c+M) in closed or numerically exact form.

Why here: the simulator's answers are only worth something if the simulator reproduces the
textbook queue where the textbook applies. `tests/integration/sim` runs the real ACD as an
M/M/c queue (Poisson arrivals, exponential talk, no ring, no wrap-up, nobody hangs up) and
compares it with `erlang_c_*`, and with exponential patience with `ErlangA`. The report
also uses them for the fully pooled bound: every agent of every site answering every call.

Conventions: `agents` = c, `load` = offered traffic a = lambda * AHT in Erlangs, `aht_s`
the mean handle time, `t_s` the service-level threshold T. The service level is the
dashboard's: answered within T / answered.

Erlang A (Palm's model: exponential patience with mean 1/theta) is solved exactly on its
birth-death chain, truncated where the stationary probabilities fall below 1e-15 of the
mass: pi_n = pi_0 a^n / n! up to c, then each extra caller adds a factor
lambda / (c mu + (n - c) theta). An arriving caller who finds j callers queued ahead of
them (PASTA) would reach an agent after j + 1 stages, the i-th with rate c mu + i theta
(an agent frees up, or one of those ahead gives up), and gives up themself at rate theta
meanwhile; so answered-within-T comes from that small absorbing chain, solved by
uniformization (Poisson-weighted steps of the embedded chain).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of M/M/c/c (Erlang's loss formula), by the stable recursion."""
    _check(agents, load)
    b = 1.0
    for k in range(1, agents + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(agents: int, load: float) -> float:
    """Probability that a caller waits in M/M/c (1.0 when load >= agents: unstable)."""
    _check(agents, load)
    if load >= agents:
        return 1.0
    b = erlang_b(agents, load)
    return agents * b / (agents - load * (1 - b))


def erlang_c_service_level(agents: int, load: float, aht_s: float, t_s: float) -> float:
    """P(wait <= T) = 1 - C e^{-(c - a) T / AHT}; 0 when unstable (the queue grows)."""
    if load >= agents:
        return 0.0
    return 1.0 - erlang_c(agents, load) * math.exp(-(agents - load) * t_s / aht_s)


def erlang_c_asa(agents: int, load: float, aht_s: float) -> float:
    """Mean wait (all callers, 0 for the unqueued): C AHT / (c - a); inf when unstable."""
    if load >= agents:
        return math.inf
    return erlang_c(agents, load) * aht_s / (agents - load)


@dataclass(frozen=True)
class ErlangAResult:
    p_wait: float          # an arriving caller finds every agent busy
    p_abandon: float       # ... and hangs up before an agent answers
    service_level: float   # answered within T / answered
    asa_s: float           # mean wait of answered callers
    answered: float        # 1 - p_abandon


class ErlangA:
    """M/M/c+M: Poisson arrivals `rate_per_s`, exponential handle `aht_s`, `agents`,
    exponential patience with mean `patience_s` (math.inf: Erlang C)."""

    def __init__(self, agents: int, rate_per_s: float, aht_s: float, patience_s: float):
        if agents < 1 or rate_per_s < 0 or aht_s <= 0 or patience_s <= 0:
            raise ValueError("Erlang A needs agents >= 1, rate >= 0, aht > 0, patience > 0")
        self.c = agents
        self.lam = rate_per_s
        self.mu = 1.0 / aht_s
        self.theta = 0.0 if math.isinf(patience_s) else 1.0 / patience_s
        if self.theta == 0 and rate_per_s * aht_s >= agents:
            raise ValueError("without abandonment the queue is unstable (load >= agents)")

    def stationary(self) -> list[float]:
        """pi_0 .. pi_N, normalised, N where the tail is negligible."""
        a = self.lam / self.mu
        weights = [1.0]
        for n in range(1, self.c + 1):
            weights.append(weights[-1] * a / n)
        peak = max(weights)
        n = self.c
        while True:
            n += 1
            nxt = weights[-1] * self.lam / (self.c * self.mu + (n - self.c) * self.theta)
            weights.append(nxt)
            peak = max(peak, nxt)
            if nxt < 1e-15 * peak and nxt <= weights[-2]:
                break
            if n > self.c + 2_000_000:
                raise ValueError("Erlang A: queue too long to solve (patience too long?)")
            if weights[-1] > 1e250:   # rescale to stay finite
                weights = [w / 1e250 for w in weights]
                peak /= 1e250
        total = math.fsum(weights)
        return [w / total for w in weights]

    def solve(self, t_s: float) -> ErlangAResult:
        pi = self.stationary()
        c, mu, theta = self.c, self.mu, self.theta
        queued = pi[c:]      # queued[j]: the caller finds j callers ahead in the queue
        p_wait = math.fsum(queued)
        immediate = 1.0 - p_wait
        # Served probability and E[wait; served] for j ahead, by recursion over the stages.
        served: list[float] = []
        wait_served: list[float] = []
        prev_s, prev_w = 1.0, 0.0
        for i in range(len(queued)):
            advance = c * mu + i * theta
            rate = advance + theta
            s = advance / rate * prev_s
            w = advance / rate * (prev_s / rate + prev_w)
            served.append(s)
            wait_served.append(w)
            prev_s, prev_w = s, w
        p_served = immediate + math.fsum(q * s for q, s in zip(queued, served, strict=True))
        wait_sum = math.fsum(q * w for q, w in zip(queued, wait_served, strict=True))
        within = immediate + self._served_within(queued, t_s)
        return ErlangAResult(
            p_wait=p_wait,
            p_abandon=1.0 - p_served,
            service_level=within / p_served if p_served > 0 else 0.0,
            asa_s=wait_sum / p_served if p_served > 0 else math.inf,
            answered=p_served,
        )

    def _served_within(self, queued: list[float], t_s: float) -> float:
        """Probability mass (over the arrival's j) reaching an agent within `t_s`."""
        c, mu, theta = self.c, self.mu, self.theta
        if not queued or t_s <= 0:
            return 0.0
        j_max = len(queued) - 1
        uniform = c * mu + j_max * theta + theta
        steps_mean = uniform * t_s
        last = int(steps_mean + 12 * math.sqrt(steps_mean) + 30)
        p = list(queued)               # mass in "i ahead" states
        advance = [c * mu + i * theta for i in range(len(p))]
        stay = [1.0 - (a + theta) / uniform for a in advance]
        poisson = math.exp(-steps_mean)  # P(m steps by t), m = 0
        log_poisson = -steps_mean
        done = 0.0                     # served within m steps
        total = 0.0
        for m in range(1, last + 1):
            done += p[0] * advance[0] / uniform
            nxt = [p[i] * stay[i] + p[i + 1] * advance[i + 1] / uniform
                   for i in range(len(p) - 1)]
            nxt.append(p[-1] * stay[-1])
            p = nxt
            log_poisson += math.log(steps_mean) - math.log(m)
            poisson = math.exp(log_poisson)
            # P(served by t) = sum_m P(N(t) = m) P(served within m steps)
            total += poisson * done
            if sum(p) < 1e-15 and m > steps_mean:
                total += done * max(0.0, 1.0 - _poisson_cdf(steps_mean, m))
                break
        return total


def _poisson_cdf(mean: float, k: int) -> float:
    term = math.exp(-mean)
    acc = term
    for i in range(1, k + 1):
        term *= mean / i
        acc += term
    return acc


def _check(agents: int, load: float) -> None:
    if agents < 1 or load < 0:
        raise ValueError(f"agents must be >= 1 and load >= 0 (got {agents}, {load})")
