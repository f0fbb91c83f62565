"""A faster MACE product basis: one contraction per element, same numbers.

mace-torch's symmetric contraction folds the one-hot element attributes into
its einsums, so every node is contracted with the weights of *every* element
and large (nodes x channels x 16 x 16 x ...) intermediates are built, summed
and permuted. The contraction is linear in the element attributes y:

    out[n] = sum_e y[n, e] * g_e(x[n]),
    g_e(x) = ((W3_e . x + W2_e) . x + W1_e) . x,   W_nu_e = U_nu . weights_nu[e]

so `ElementContraction` forms W_nu_e per element and contracts each node only
with its own element's tensors. Same numbers up to float rounding; about
num_elements times fewer operations in the largest step, and no
(nodes x channels x 16 x 16 x ...) intermediates summed and permuted.
`use_element_contractions` swaps it into a model (training keeps working: same
parameters, same state_dict), `for_inference` into a frozen copy; each swap is
checked on random inputs, and a model that does not look like mace-torch's is
left as it is.
"""

from __future__ import annotations

import copy
import logging

import torch

log = logging.getLogger(__name__)

CHECK_RTOL = 1e-4
"""Largest relative difference of a swapped contraction on random inputs."""


class ElementContraction(torch.nn.Module):
    """mace.modules.symmetric_contraction.Contraction, evaluated element by element.

    For correlation nu and each element e, with lead indices (m, a, rest):
    g[m] = sum_a x_a B[m, a],  B = W1 + sum_k (x^(k-1) outer products) @ Wk,
    so each step is one matrix product per channel over the element's nodes.
    It holds mace-torch's own parameters and buffers under the same names (the
    state_dict is the same, so checkpoints and training carry over); the
    combined tensors W_nu_e are recomputed while the weights take gradients and
    otherwise cached for as long as the weights and buffers keep their values.

    Args:
        contraction: the mace-torch module (U_matrix_<nu> buffers, weights_max,
            weights ordered from correlation - 1 down to 1).
    """

    def __init__(self, contraction: torch.nn.Module) -> None:
        super().__init__()
        self.correlation = int(contraction.correlation)
        self.weights_max = contraction.weights_max
        self.weights = contraction.weights
        for name, buffer in contraction.named_buffers(recurse=False):
            self.register_buffer(name, buffer)
        top = contraction.U_tensors(self.correlation)
        self.outputs = top.shape[0] if top.dim() == self.correlation + 2 else 1
        self._cache: tuple[tuple, list[torch.Tensor]] | None = None

    def combined(self) -> list[torch.Tensor]:
        """W_nu_e for nu = 1 .. correlation, each (E, C, ell^(nu-1), M * ell)."""
        weights = [*reversed(list(self.weights)), self.weights_max]  # nu = 1 .. corr
        trained = torch.is_grad_enabled() and any(w.requires_grad for w in weights)
        if not trained and self._cached_for(weights):
            return self._cache[1]
        tensors = []
        for nu, w in enumerate(weights, start=1):
            u = getattr(self, f"U_matrix_{nu}")  # (m?, a, rest..., k); m absent: 0e
            if u.dim() == nu + 1:
                u = u.unsqueeze(0)
            combined = torch.einsum("...k,ekc->ec...", u, w)
            e, c, m, ell = combined.shape[:4]
            # rows meet the (nu-1)-fold products of x, columns are (m, a)
            tensors.append(
                combined.reshape(e, c, m * ell, ell ** (nu - 1)).transpose(2, 3)
            )
        if not trained:
            key = ([w.detach().clone() for w in weights], self._buffer_ids())
            self._cache = (key, [t.detach().contiguous() for t in tensors])
        return tensors

    def _buffer_ids(self) -> list[tuple]:
        return [
            (b.data_ptr(), b.dtype, b.device, b._version)
            for b in self.buffers(recurse=False)
        ]

    def _cached_for(self, weights: list[torch.Tensor]) -> bool:
        # weights compared by value: copies made through .data keep the _version
        if self._cache is None:
            return False
        saved, buffer_ids = self._cache[0]
        return buffer_ids == self._buffer_ids() and all(
            a.dtype == b.dtype and a.device == b.device and torch.equal(a, b)
            for a, b in zip(weights, saved, strict=True)
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Contract features x (nodes, channels, ell) with attributes y (nodes, E)."""
        w = self.combined()
        n, c, ell = x.shape
        out = x.new_zeros(n, c, self.outputs)
        for e in range(y.shape[1]):
            nodes = torch.nonzero(y[:, e]).squeeze(1)
            if nodes.numel() == 0:
                continue
            xe = x.index_select(0, nodes).transpose(0, 1)  # (C, n_e, ell)
            b = w[0][e]  # (C, 1, M * ell)
            power = xe
            for nu in range(2, self.correlation + 1):
                b = b + torch.bmm(power, w[nu - 1][e])
                if nu < self.correlation:
                    power = (power.unsqueeze(-1) * xe.unsqueeze(-2)).flatten(2)
            b = b.view(c, -1, self.outputs, ell)
            g = (b * xe.unsqueeze(2)).sum(-1)  # (C, n_e, M)
            g = g.transpose(0, 1) * y.index_select(0, nodes)[:, e, None, None]
            out = out.index_add(0, nodes, g)
        return out.reshape(n, -1)


def use_element_contractions(model: torch.nn.Module) -> torch.nn.Module:
    """Swap mace-torch's contractions in `model` (in place) for ElementContraction.

    Parameters stay the same objects, so optimizers and EMA built before or
    after keep working. A contraction whose swap does not reproduce mace-torch's
    output on random inputs (another mace-torch version, say) is kept, with a
    warning. Returns the model.
    """
    for module in model.modules():
        contractions = getattr(module, "contractions", None)
        if not isinstance(contractions, torch.nn.ModuleList):
            continue
        for i, old in enumerate(contractions):
            if type(old).__name__ != "Contraction":
                continue
            new = _swap_checked(old)
            if new is not None:
                contractions[i] = new
    return model


def for_inference(model: torch.nn.Module) -> torch.nn.Module:
    """A frozen eval-mode copy of a MACE model with element-wise contractions."""
    fast = copy.deepcopy(model).eval()
    for p in fast.parameters():
        p.requires_grad_(False)
    return use_element_contractions(fast)


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
        new._cache = None
        scale = want.abs().max().clamp(min=1e-12)
        if want.shape == got.shape and (want - got).abs().max() <= CHECK_RTOL * scale:
            return new
        log.warning("element-wise contraction disagrees with mace-torch; not used")
    except (AttributeError, RuntimeError, TypeError, ValueError) as err:
        log.warning("element-wise contraction not used: %s", err)
    return None
