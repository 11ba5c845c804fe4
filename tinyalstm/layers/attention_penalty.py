"""The attention penalty of Sharma et al.'s released soft-attention code ("doubly stochastic attention"):

    P = alpha_c * (1/B) sum_b sum_i (1 - sum_t a_{b,t,i})^2          over locations i of every example b

Each step's map already sums to 1 over the locations; the penalty asks the sum over *time* at each location to be
near 1 as well, so that no location is ignored for the whole clip and none is attended at every step. Their
code averages over locations and sums over the batch (``((1 - alphas.sum(0)) ** 2).sum(0).mean()``); here it is
summed over locations and averaged over the batch, like the cross-entropy it is added to, so that ``alpha_c`` is
the weight of one example's term.

Shapes: att (B, T, ...) the attention of every step (maps (B, T, N, N) or weights (B, T, L)).
"""


def attention_penalty_forward(att, alpha):
    """-> (P float, dP/datt with att's shape)."""
    B, T = att.shape[:2]
    total = att.sum(axis=1, keepdims=True)                        # (B, 1, ...) sum over time per location
    miss = 1.0 - total
    penalty = alpha * float((miss * miss).sum()) / B
    return penalty, (-2.0 * alpha / B) * miss.repeat(T, axis=1)
