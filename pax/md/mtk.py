"""Martyna-Tobias-Klein NPT, batched: isotropic (isomtk) and full cell (mtk).

The schemes of ase.md.nose_hoover_chain.IsotropicMTKNPT and MTKNPT (Martyna,
Tobias and Klein, J. Chem. Phys. 101, 4177 (1994)): Nose-Hoover chains of
CHAIN links on the particles (time constant md.thermostat_time_fs) and on the
cell (md.barostat_time_fs), fourth-order Suzuki-Yoshida steps for the chains.
isomtk scales the cell as cell0 exp(eps); mtk moves all nine cell components
with the cell momenta p_g. One force (and stress) evaluation per step: the
first half of a step uses those of the previous one. Computed in ASE's units
(momenta m v, time in ASE units) so it follows ASE to rounding.

Per trajectory the chain variables live in MDState.mtk, one row of WIDTH values:
eps, p_eps, eta[CHAIN], p_eta[CHAIN], xi[CHAIN], p_xi[CHAIN], cell0 (9 values),
p_g (9 values).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from pax.md.quantities import FS, GPA, KB, per_system_sum

CHAIN = 3
"""Links of each Nose-Hoover chain (ASE's tchain and pchain default)."""
EPS, P_EPS = 0, 1
ETA, P_ETA, XI, P_XI = (slice(2 + k * CHAIN, 2 + (k + 1) * CHAIN) for k in range(4))
CELL0 = slice(2 + 4 * CHAIN, 2 + 4 * CHAIN + 9)
P_G = slice(CELL0.stop, CELL0.stop + 9)
WIDTH = P_G.stop

SUZUKI_YOSHIDA = (
    1 / (2 - 2 ** (1 / 3)),
    -(2 ** (1 / 3)) / (2 - 2 ** (1 / 3)),
    1 / (2 - 2 ** (1 / 3)),
)
"""Weights of the fourth-order Suzuki-Yoshida composition (as ASE's)."""


def fresh_rows(cells_A: torch.Tensor) -> torch.Tensor:
    """(N, WIDTH) chain variables at rest for cells (N, 3, 3): eps 0, cell0 = cell."""
    rows = cells_A.new_zeros(cells_A.shape[0], WIDTH)
    rows[:, CELL0] = cells_A.reshape(-1, 9)
    return rows


def exprel(x: torch.Tensor) -> torch.Tensor:
    """(exp(x) - 1) / x, 1 at x = 0."""
    small = x.abs() < 1e-8
    safe = torch.where(small, torch.ones_like(x), x)
    return torch.where(small, 1 + x / 2, torch.expm1(safe) / safe)


class _System:
    """Constants of each trajectory's MTK step (N,), in ASE units."""

    def __init__(self, state, full: bool = False) -> None:
        lay = state.layout
        self.full = full
        self.batch = lay.batch
        self.n = (lay.ptr[1:] - lay.ptr[:-1]).to(torch.float64)  # atoms
        self.kT = KB * lay.temperature_K  # eV
        tdamp = lay.thermostat_time_fs * FS
        pdamp = lay.barostat_time_fs * FS
        self.dt = lay.dt_sys_fs * FS
        cell_dof = 9
        self.W = (self.n + 1 if full else 3 * self.n + 3) * self.kT * pdamp**2
        links = torch.ones(CHAIN, dtype=torch.float64, device=self.n.device)
        self.Q = (self.kT * tdamp**2)[:, None] * links
        self.Q[:, 0] *= 3 * self.n
        self.R = (self.kT * pdamp**2)[:, None] * links
        self.R[:, 0] *= cell_dof
        self.cell_dof = cell_dof
        self.p_ext = lay.pressure_GPa * GPA  # eV/Å³
        self.m = lay.masses_amu[:, None]

    def twice_kinetic(self, p: torch.Tensor) -> torch.Tensor:
        """(N,) sum of p²/m, eV."""
        return per_system_sum((p.square() / self.m).sum(-1), self.batch, len(self.n))


def _sweep(p_link, mass, kT, g0, order, d) -> None:
    """Update the chain momenta p_link (N, CHAIN) link by link, in place.

    g0: (N,) driving term of the first link; a later link is driven by the
    kinetic energy of the one before it, as it is at that moment.
    """
    d2, d4 = d / 2, d / 4
    for j in order:
        g = g0 if j == 0 else p_link[:, j - 1].square() / mass[:, j - 1] - kT
        if j < CHAIN - 1:
            p_link[:, j] *= torch.exp(-d4 * p_link[:, j + 1] / mass[:, j + 1])
        p_link[:, j] += d2 * g
        if j < CHAIN - 1:
            p_link[:, j] *= torch.exp(-d4 * p_link[:, j + 1] / mass[:, j + 1])


BACKWARD, FORWARD = tuple(reversed(range(CHAIN))), tuple(range(CHAIN))


def _particle_chain(c: _System, mtk, p, delta) -> torch.Tensor:
    """exp(iL_NHC delta) on the particles; returns the new momenta (A, 3)."""
    eta, p_eta = mtk[:, ETA], mtk[:, P_ETA].clone()
    for weight in SUZUKI_YOSHIDA:
        d = weight * delta
        _sweep(p_eta, c.Q, c.kT, c.twice_kinetic(p) - 3 * c.n * c.kT, BACKWARD, d)
        eta = eta + d[:, None] * p_eta / c.Q
        p = p * torch.exp(-d * p_eta[:, 0] / c.Q[:, 0])[c.batch, None]
        _sweep(p_eta, c.Q, c.kT, c.twice_kinetic(p) - 3 * c.n * c.kT, FORWARD, d)
    mtk[:, ETA], mtk[:, P_ETA] = eta, p_eta
    return p


def _volume_chain(c: _System, mtk, delta) -> None:
    """exp(iL_NHC-baro delta) on p_eps (isomtk) or p_g (mtk), in mtk in place."""
    xi, p_xi = mtk[:, XI], mtk[:, P_XI].clone()
    p_cell = (mtk[:, P_G] if c.full else mtk[:, P_EPS : P_EPS + 1]).clone()
    shift = c.cell_dof * c.kT if c.full else c.kT
    for weight in SUZUKI_YOSHIDA:
        d = weight * delta
        g0 = p_cell.square().sum(-1) / c.W - shift
        _sweep(p_xi, c.R, c.kT, g0, BACKWARD, d)
        xi = xi + d[:, None] * p_xi / c.R
        p_cell = p_cell * torch.exp(-d * p_xi[:, 0] / c.R[:, 0])[:, None]
        g0 = p_cell.square().sum(-1) / c.W - shift
        _sweep(p_xi, c.R, c.kT, g0, FORWARD, d)
    mtk[:, XI], mtk[:, P_XI] = xi, p_xi
    if c.full:
        mtk[:, P_G] = p_cell
    else:
        mtk[:, P_EPS] = p_cell[:, 0]


def _volume(mtk) -> torch.Tensor:
    """(N,) Å³ of cell0 exp(eps)."""
    cell0 = mtk[:, CELL0].reshape(-1, 3, 3)
    return torch.linalg.det(cell0).abs() * torch.exp(3 * mtk[:, EPS])


def _kick_volume(c: _System, mtk, p, state, delta) -> None:
    """exp(iL_eps,2 delta): p_eps += delta G, with the pressure of the stress."""
    stress = state.stress
    volume = _volume(mtk)
    kinetic = c.twice_kinetic(p)
    pressure = -torch.diagonal(stress, dim1=-2, dim2=-1).sum(-1) / 3
    pressure = pressure + kinetic / (3 * volume)  # ASE's include_ideal_gas
    mtk[:, P_EPS] += delta * (3 * volume * (pressure - c.p_ext) + kinetic / c.n)


def _kick_particles(c: _System, mtk, p, forces, delta) -> torch.Tensor:
    """exp(iL_2 delta) on the momenta."""
    x = ((1 + 1 / c.n) * mtk[:, P_EPS] * delta / c.W)[c.batch, None]
    return p * torch.exp(-x) + delta[c.batch, None] * forces * exprel(-x)


def isomtk(state, systems: torch.Tensor) -> Iterator[None]:
    """One MTK step of the trajectories in systems ((N,) bool)."""
    c = _System(state)
    chains = state.mtk.clone()
    p = _first_kicks(state, c, chains, _kick_particles, _kick_volume)
    x = (c.dt * chains[:, P_EPS] / c.W)[c.batch, None]
    q = state.positions_A * torch.exp(x) + p * (c.dt[c.batch, None] / c.m) * exprel(x)
    chains[:, EPS] += c.dt * chains[:, P_EPS] / c.W
    cell = chains[:, CELL0].reshape(-1, 3, 3) * torch.exp(chains[:, EPS])[:, None, None]
    _commit(state, c, systems, chains, p, q, cell)
    yield
    _second_half(state, c, systems, _kick_particles, _kick_volume)


def _first_kicks(state, c: _System, chains, kick_particles, kick_cell):
    """Chains, cell and particle half kicks before the drift; returns the momenta."""
    half = c.dt / 2
    p = c.m * state.velocities / FS  # (A, 3) ASE momenta
    _volume_chain(c, chains, half)
    p = _particle_chain(c, chains, p, half)
    kick_cell(c, chains, p, state, half)
    return kick_particles(c, chains, p, state.forces, half)


def _second_half(state, c: _System, systems, kick_particles, kick_cell) -> None:
    """The step after the new forces: kicks, then the chains, written back."""
    half = c.dt / 2
    chains = state.mtk.clone()
    p = c.m * state.velocities / FS
    p = kick_particles(c, chains, p, state.forces, half)
    kick_cell(c, chains, p, state, half)
    p = _particle_chain(c, chains, p, half)
    _volume_chain(c, chains, half)
    _commit(state, c, systems, chains, p)


def _commit(state, c: _System, systems, chains, p, q=None, cell=None) -> None:
    """Write the stepped systems' momenta (positions, cells) and chains back."""
    atoms, rows = systems[c.batch][:, None], systems[:, None]
    if q is not None:
        state.positions_A = torch.where(atoms, q, state.positions_A)
    state.velocities = torch.where(atoms, p * FS / c.m, state.velocities)
    if cell is not None:
        state.cell_A = torch.where(rows[:, :, None], cell, state.cell_A)
    state.mtk = torch.where(rows, chains, state.mtk)


def _kick_cell(c: _System, mtk, p, state, delta) -> None:
    """exp(iL_g,2 delta): p_g += delta G (mtk), G from the stress and momenta."""
    stress, cell = state.stress, state.cell_A
    volume = torch.linalg.det(cell).abs().clamp_min(1e-12)  # (N,) Å³
    mvv = per_system_sum(
        (p.unsqueeze(-1) * p.unsqueeze(-2)) / c.m.unsqueeze(-1), c.batch, len(c.n)
    )  # (N, 3, 3) eV
    sigma = -(stress - mvv / volume[:, None, None])  # ASE: -stress, ideal gas in
    eye = torch.eye(3, dtype=torch.float64, device=cell.device)
    kinetic = c.twice_kinetic(p) / (3 * c.n)
    g = volume[:, None, None] * (sigma - c.p_ext[:, None, None] * eye)
    g = g + kinetic[:, None, None] * eye
    mtk[:, P_G] += (delta[:, None, None] * g).reshape(-1, 9)


def _eig_p_g(mtk):
    p_g = mtk[:, P_G].reshape(-1, 3, 3)
    return torch.linalg.eigh(0.5 * (p_g + p_g.transpose(-1, -2)))


def _kick_particles_full(c: _System, mtk, p, forces, delta) -> torch.Tensor:
    """exp(iL_2 delta) on the momenta, in the eigenbasis of p_g."""
    lam, u = _eig_p_g(mtk)  # (N, 3), (N, 3, 3)
    trace = mtk[:, P_G].reshape(-1, 3, 3).diagonal(dim1=-2, dim2=-1).sum(-1)
    kappa = lam + (trace / (3 * c.n))[:, None]
    x = (-kappa * delta[:, None] / c.W[:, None])[c.batch]  # (A, 3)
    ub = u[c.batch]  # (A, 3, 3)
    y = torch.einsum("ai,aij->aj", p, ub)
    f = torch.einsum("ai,aij->aj", forces, ub)
    sol = y * torch.exp(x) + delta[c.batch, None] * f * exprel(x)
    return torch.einsum("aj,aij->ai", sol, ub)


def mtk(state, systems: torch.Tensor) -> Iterator[None]:
    """One full-cell MTK step of the trajectories in systems ((N,) bool)."""
    c = _System(state, full=True)
    chains = state.mtk.clone()
    p = _first_kicks(state, c, chains, _kick_particles_full, _kick_cell)
    lam, u = _eig_p_g(chains)
    grow = lam * (c.dt / c.W)[:, None]  # (N, 3)
    ub = u[c.batch]
    x = torch.einsum("ai,aij->aj", state.positions_A, ub)
    y = torch.einsum("ai,aij->aj", p, ub)
    scale = (c.dt[c.batch, None] / c.m) * exprel(grow)[c.batch]
    sol = x * torch.exp(grow)[c.batch] + y * scale
    q = torch.einsum("aj,aij->ai", sol, ub)
    cell = torch.einsum("nkj,nj,nlj->nkl", state.cell_A @ u, torch.exp(grow), u)
    _commit(state, c, systems, chains, p, q, cell)
    yield
    _second_half(state, c, systems, _kick_particles_full, _kick_cell)
