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
    tensors W_nu_e of the elements that occur are recomputed while the weights
    take gradients and otherwise cached for as long as the weights and buffers
    keep their values.

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
        self._cache: tuple[tuple, dict[int, list[torch.Tensor]]] | None = None

    def _element_tensors(self, e: int) -> list[torch.Tensor]:
        """W_nu_e for nu = 1 .. correlation, each (C, ell^(nu-1), M * ell).

        Formed only for elements that occur (a MACE-MP model knows 89), and
        cached while the weights take no gradient and keep their values.
        """
        if self._cache is not None and e in self._cache[1]:
            return self._cache[1][e]
        tensors = []
        weights = self._weights()
        for nu, w in enumerate(weights, start=1):
            u = getattr(self, f"U_matrix_{nu}")  # (m?, a, rest..., k); m absent: 0e
            if u.dim() == nu + 1:
                u = u.unsqueeze(0)
            combined = torch.einsum("...k,kc->c...", u, w[e])
            c, m, ell = combined.shape[:3]
            # rows meet the (nu-1)-fold products of x, columns are (m, a)
            tensors.append(
                combined.reshape(c, m * ell, ell ** (nu - 1)).transpose(1, 2)
            )
        if self._cache is not None:
            tensors = [t.detach().contiguous() for t in tensors]
            self._cache[1][e] = tensors
        return tensors

    def _weights(self) -> list[torch.Tensor]:
        return [*reversed(list(self.weights)), self.weights_max]  # nu = 1 .. corr

    def _refresh_cache(self) -> None:
        """Keep cached tensors only while valid; no cache while weights train."""
        weights = self._weights()
        if torch.is_grad_enabled() and any(w.requires_grad for w in weights):
            self._cache = None
            return
        ids = [
            (b.data_ptr(), b.dtype, b.device, b._version)
            for b in self.buffers(recurse=False)
        ]
        if self._cache is not None:
            saved, saved_ids = self._cache[0]
            # weights compared by value: copies made through .data keep _version
            if saved_ids == ids and all(
                a.dtype == b.dtype and a.device == b.device and torch.equal(a, b)
                for a, b in zip(weights, saved, strict=True)
            ):
                return
        self._cache = (([w.detach().clone() for w in weights], ids), {})

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Contract features x (nodes, channels, ell) with attributes y (nodes, E)."""
        self._refresh_cache()
        n, c, ell = x.shape
        out = x.new_zeros(n, c, self.outputs)
        for e in range(y.shape[1]):
            nodes = torch.nonzero(y[:, e]).squeeze(1)
            if nodes.numel() == 0:
                continue
            w = self._element_tensors(e)
            xe = x.index_select(0, nodes).transpose(0, 1)  # (C, n_e, ell)
            b = w[0]  # (C, 1, M * ell)
            power = xe
            for nu in range(2, self.correlation + 1):
                b = b + torch.bmm(power, w[nu - 1])
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
