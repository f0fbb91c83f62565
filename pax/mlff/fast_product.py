"""A faster MACE product basis for inference: one contraction per element.

mace-torch's symmetric contraction folds the one-hot element attributes into
its einsums, so every node is contracted with the weights of *every* element
and large (nodes x channels x 16 x 16 x ...) intermediates are built, summed
and permuted. The contraction is linear in the element attributes y:

    out[n] = sum_e y[n, e] * g_e(x[n]),
    g_e(x) = ((W3_e . x + W2_e) . x + W1_e) . x,   W_nu_e = U_nu . weights_nu[e]

so `ElementContraction` precomputes W_nu_e once (the weights are frozen) and
contracts each node only with its own element's tensors. Same numbers up to
float rounding; about num_elements times fewer operations in the largest step.
`for_inference` swaps it into a copy of a model and checks the swap on random
inputs; a model that does not look like mace-torch's is left as it is.
"""

from __future__ import annotations

import copy
import logging

import torch

log = logging.getLogger(__name__)

CHECK_RTOL = 1e-4
"""Largest relative difference of a swapped contraction on random inputs."""


class ElementContraction(torch.nn.Module):
    """mace.modules.symmetric_contraction.Contraction with frozen weights, per element.

    For correlation nu and each element e, with lead indices (m, a, rest):
    g[m] = sum_a x_a B[m, a],  B = W1 + sum_k (x^(k-1) outer products) @ Wk,
    so each step is one matrix product per channel over the element's nodes.

    Args:
        contraction: the mace-torch module (U_matrix_<nu> buffers, weights_max,
            weights ordered from correlation - 1 down to 1).
    """

    def __init__(self, contraction: torch.nn.Module) -> None:
        super().__init__()
        self.correlation = int(contraction.correlation)
        weights = [contraction.weights_max, *contraction.weights]  # nu = corr .. 1
        for nu, w in zip(range(self.correlation, 0, -1), weights, strict=True):
            u = contraction.U_tensors(nu)  # (m?, a, rest..., k); m absent for 0e
            if u.dim() == nu + 1:
                u = u.unsqueeze(0)
            combined = torch.einsum("...k,ekc->ec...", u, w.detach())
            e, c, m, ell = combined.shape[:4]
            combined = combined.reshape(e, c, m * ell, ell ** (nu - 1))
            # (E, C, ell^(nu-1), M * ell): rows meet the (nu-1)-fold products of x
            self.register_buffer(f"w_{nu}", combined.transpose(2, 3).contiguous())
        self.outputs = m

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Contract features x (nodes, channels, ell) with attributes y (nodes, E)."""
        n, c, ell = x.shape
        out = x.new_zeros(n, c, self.outputs)
        for e in range(y.shape[1]):
            nodes = torch.nonzero(y[:, e]).squeeze(1)
            if nodes.numel() == 0:
                continue
            xe = x.index_select(0, nodes).transpose(0, 1)  # (C, n_e, ell)
            b = self.w_1[e]  # (C, 1, M * ell)
            power = xe
            for nu in range(2, self.correlation + 1):
                b = b + torch.bmm(power, getattr(self, f"w_{nu}")[e])
                if nu < self.correlation:
                    power = (power.unsqueeze(-1) * xe.unsqueeze(-2)).flatten(2)
            b = b.view(c, -1, self.outputs, ell)
            g = (b * xe.unsqueeze(2)).sum(-1)  # (C, n_e, M)
            g = g.transpose(0, 1) * y.index_select(0, nodes)[:, e, None, None]
            out = out.index_add(0, nodes, g)
        return out.reshape(n, -1)


def for_inference(model: torch.nn.Module) -> torch.nn.Module:
    """A frozen eval-mode copy of a MACE model with element-wise contractions.

    Contractions whose swap does not reproduce mace-torch's output on random
    inputs (another mace-torch version, say) are kept as they are, with a warning.
    """
    fast = copy.deepcopy(model).eval()
    for p in fast.parameters():
        p.requires_grad_(False)
    for module in fast.modules():
        contractions = getattr(module, "contractions", None)
        if not isinstance(contractions, torch.nn.ModuleList):
            continue
        for i, old in enumerate(contractions):
            if type(old).__name__ != "Contraction":
                continue
            new = _swap_checked(old)
            if new is not None:
                contractions[i] = new
    return fast


def _swap_checked(old: torch.nn.Module) -> ElementContraction | None:
    try:
        new = ElementContraction(old)
        u = old.U_tensors(old.correlation)
        elements = old.weights_max.shape[0]
        gen = torch.Generator().manual_seed(0)
        shape = (5, old.weights_max.shape[-1], u.shape[-2])
        x = torch.randn(shape, generator=gen).to(u)
        y = torch.nn.functional.one_hot(torch.arange(5) % elements, elements).to(u)
        with torch.no_grad():
            want, got = old(x, y), new(x, y)
        scale = want.abs().max().clamp(min=1e-12)
        if want.shape == got.shape and (want - got).abs().max() <= CHECK_RTOL * scale:
            return new
        log.warning("element-wise contraction disagrees with mace-torch; not used")
    except (AttributeError, RuntimeError, TypeError, ValueError) as err:
        log.warning("element-wise contraction not used: %s", err)
    return None
