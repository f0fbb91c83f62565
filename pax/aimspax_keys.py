"""Which aims-PAX settings map onto which pax keys (pax.aimspax_translate)."""

from __future__ import annotations

IDG, AL = "INITIAL_DATASET_GENERATION", "ACTIVE_LEARNING"
SECTIONS = (IDG, AL, "MD", "MISC", "CLUSTER", "GENERAL", "ARCHITECTURE", "TRAINING")

DIRECT = {
    # (section, aims-PAX key): (group, pax key)
    (IDG, "desired_acc_scale_idg"): ("al", "idg.desired_acc_scale_idg"),
    (IDG, "n_points_per_sampling_step_idg"): ("al", "idg.n_points_per_sampling_step"),
    (IDG, "intermediate_epochs_idg"): ("al", "idg.intermediate_epochs"),
    (IDG, "skip_step_initial"): ("al", "idg.skip_step_initial"),
    (IDG, "max_initial_epochs"): ("al", "idg.max_initial_epochs"),
    (IDG, "max_initial_set_size"): ("al", "idg.max_initial_set_size"),
    (IDG, "distinct_model_sets"): ("al", "idg.distinct_member_sets"),
    (IDG, "converge_initial"): ("al", "idg.converge_initial"),
    (AL, "num_trajectories"): ("al", "num_trajectories"),
    (AL, "c_x"): ("al", "c_x"),
    (AL, "epochs_per_worker"): ("al", "epochs_per_worker"),
    (AL, "intermediate_epochs_al"): ("al", "intermediate_epochs_al"),
    (AL, "max_MD_steps"): ("al", "max_MD_steps"),
    (AL, "max_train_set_size"): ("al", "max_train_set_size"),
    (AL, "skip_step_mlff"): ("al", "skip_step_mlff"),
    (AL, "convergence_patience"): ("al", "convergence_patience"),
    (AL, "max_convergence_epochs"): ("al", "max_convergence_epochs"),
    (AL, "margin"): ("al", "convergence_margin"),
    (AL, "uncert_not_crossed_limit"): ("al", "uncert_not_crossed_limit"),
    (AL, "freeze_threshold_dataset"): ("al", "freeze_threshold_dataset"),
    (AL, "train_subset_size"): ("al", "train_subset_size"),
    (AL, "valid_subset_size"): ("al", "valid_subset_size"),
    ("MD", "temperature"): ("md", "temperature_K"),
    ("MD", "timestep"): ("md", "timestep_fs"),
    ("MD", "friction"): ("md", "friction_per_fs"),
    ("MD", "seed"): ("md", "seed"),
    ("MD", "MD_seed"): ("md", "seed"),
    ("GENERAL", "default_dtype"): ("mlff", "default_dtype"),
    ("GENERAL", "seed"): ("mlff", "seed"),
    ("MISC", "device"): ("mlff", "device"),
    ("TRAINING", "batch_size"): ("mlff", "batch_size"),
    ("TRAINING", "valid_batch_size"): ("mlff", "valid_batch_size"),
    ("TRAINING", "lr"): ("mlff", "lr"),
    ("TRAINING", "amsgrad"): ("mlff", "amsgrad"),
    ("TRAINING", "optimizer"): ("mlff", "optimizer"),
    ("TRAINING", "weight_decay"): ("mlff", "weight_decay"),
    ("TRAINING", "energy_weight"): ("mlff", "energy_weight"),
    ("TRAINING", "forces_weight"): ("mlff", "forces_weight"),
    ("TRAINING", "stress_weight"): ("mlff", "stress_weight"),
    ("TRAINING", "ema"): ("mlff", "ema"),
    ("TRAINING", "ema_decay"): ("mlff", "ema_decay"),
    ("TRAINING", "clip_grad"): ("mlff", "clip_grad"),
    ("TRAINING", "scheduler"): ("mlff", "scheduler"),
    ("TRAINING", "lr_factor"): ("mlff", "lr_factor"),
    ("TRAINING", "scheduler_patience"): ("mlff", "scheduler_patience"),
    ("TRAINING", "lr_scheduler_gamma"): ("mlff", "lr_scheduler_gamma"),
    **{
        ("ARCHITECTURE", key): ("mlff", key)
        for key in (
            "r_max",
            "num_channels",
            "max_L",
            "max_ell",
            "correlation",
            "num_interactions",
            "radial_MLP",
            "num_radial_basis",
            "num_cutoff_basis",
            "MLP_irreps",
        )
    },
}
"""Settings with the same meaning and unit in pax."""

SHARED = {
    # keys both phases carry in aims-PAX; pax has one; ACTIVE_LEARNING's wins
    "desired_acc": ("al", "desired_acc"),
    "valid_ratio": ("al", "valid_ratio"),
    "ensemble_size": ("mlff", "ensemble_size"),
    "valid_skip": ("mlff", "valid_skip"),
}

NOT_NEEDED = {
    "output_dir": "pax writes everything under its run directory (run.name)",
    "dataset_dir": "pax writes everything under its run directory (run.name)",
    "log_dir": "pax writes everything under its run directory (run.name)",
    "checkpoints_dir": "pax writes everything under its run directory (run.name)",
    "model_dir": "pax writes everything under its run directory (run.name)",
    "loss_dir": "pax writes everything under its run directory (run.name)",
    "create_restart": "pax runs are always resumable (rerun the same command)",
    "label": "pax names its Parsl blocks itself",
    "model_choice": "pax trains MACE",
    "loss": "pax uses mace-torch's weighted energy-forces loss",
    "compute_stress": "pax adds stress for periodic cells itself (mlff.periodic_loss)",
    "progress_dft_update": "pax prints progress on one line as labels arrive",
    "scheduler_initial": "pax schedules the learning rate in every phase",
}

HANDLED_ELSEWHERE = {
    *SHARED,
    "initial_sampling",
    "foundational_model",
    "foundational_model_settings",
    "use_teacher_reference",
    "teacher_reference_settings",
    "species_dir",
    "use_foundational",
    "stat_ensemble",
    "thermostat",
    "barostat",
    "pressure",
    "tdamp",
    "pdamp",
    "tchain",
    "pchain",
    "tloop",
    "ploop",
    "name_exp",
}

SBATCH = {
    "partition": "partition",
    "time": "walltime",
    "account": "account",
    "qos": "qos",
}
