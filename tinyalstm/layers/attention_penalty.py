"""The attention penalty of Sharma et al.'s released soft-attention code ("doubly stochastic attention"):

    P = alpha_c * (1/B) sum_b sum_i (1 - sum_t a_{b,t,i})^2          over locations i of every example b

Each step's map already sums to 1 over the locations; the penalty asks the sum over *time* at each location to be
near 1 as well, so that no location is ignored for the whole clip and none is attended at every step. Their
code averages over locations and sums over the batch (``((1 - alphas.sum(0)) ** 2).sum(0).mean()``); here it is
summed over locations and averaged over the batch, like the cross-entropy it is added to, so that ``alpha_c`` is
the weight of one example's term.

Shapes: att (B, T, ...) the attention of every step (maps (B, T, N, N) or weights (B, T, L)).
"""


from typing import NamedTuple


class PenaltyCache(NamedTuple):
    miss: object          # (B, 1, ...) 1 - sum_t a_t at every location
    steps: int            # T
    alpha: float


def attention_penalty_forward(att, alpha):
    """-> (P float, cache)."""
    B, T = att.shape[:2]
    miss = 1.0 - att.sum(axis=1, keepdims=True)                   # (B, 1, ...) per location, over time
    return alpha * float((miss * miss).sum()) / B, PenaltyCache(miss, T, float(alpha))


def attention_penalty_backward(dpenalty, cache):
    """dP/datt (B, T, ...) for an upstream gradient dpenalty (a float, 1.0 for the loss itself)."""
    B = cache.miss.shape[0]
    return (-2.0 * cache.alpha * dpenalty / B) * cache.miss.repeat(cache.steps, axis=1)
