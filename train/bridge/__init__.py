"""The sample-factory bridge: how stock sample-factory 2.1.1 (no fork) trains SRMT, its memory included.

Every import of sample-factory in the project is in this package:

    settings.py      SRMTSettings: what the bridge reads besides sample-factory's options (`cfg.srmt`)
    env.py           the batched env as sample-factory sees it (one env object = E envs x A agents)
    actor_critic.py  SRMTActorCritic: one SRMTPolicy; acting vs the learner's passes by entry point
    registration.py  the factories every sample-factory process receives
    adaptations.py   the four changes to sample-factory, installed by `install_adaptations()`
    pins.py          the internals the bridge depends on, each pinned by a source hash, and why
    options.py       sample-factory's own options, read from its parser
    runner.py        building, running and stopping its runner; reading its progress
    checkpoints.py   its checkpoint files: which one resumes, reading, the warm start's step-0 one

Nothing here changes sample-factory on import: `install_adaptations()` does,
called where training starts and, through the registered actor-critic
factory, in every process sample-factory spawns (adaptations.py).

The memory's way from the env to the learner
============================================

Settings. The env config, the model config, E and the backend ride on
sample-factory's config namespace as one plain dict, `cfg.srmt`
(settings.py): sample-factory pickles that namespace into every process and
json-dumps it into the experiment's config.json.

One env object is the whole batch. `batched_sampling=True` and
`num_envs_per_worker == worker_num_splits` (train/managed.py), so every
rollout-worker split holds one `SFBatchedEnv` (env.py) wrapping one backend
env of E environments x A agents. Its N = E*A rows are sample-factory's
"agents", agent-major (row = e*A + a).

The state is `rnn_states`. The per-row SRMT state (srmt/state.py: own
memory, the pool of the A memories of its environment under memory `stored`,
the last encoder outputs, steps seen) is sample-factory's `rnn_states` row,
sized by the replaced `get_rnn_size`. With `use_rnn=False` and recurrence 1,
sample-factory stores it at every step, hands it back at the next one,
zeroes it at done, and gives the learner every sample's stored state.

One rollout of T = `sf.rollout` steps of one env object, top to bottom (the
functions named are sample-factory's unless a module is given; the ones
marked [pinned] are in pins.py):

1. Acting, step t. The rollout worker's `generate_policy_request` writes the
   last observations and `last_rnn_state` (N, S) into the trajectory buffer
   at step t, each env object one whole block [pinned: `BufferMgr.__init__`].
   The inference worker concatenates whole blocks of several workers and calls
   `SRMTActorCritic.forward(obs, rnn_states)` (actor_critic.py): the encoder
   (`forward_head`; with a local pool the agents' cells ride along), then
   `step_core(learner=False)` = `SRMTPolicy.core(..., grouped=True)`, which
   reads each environment's pool and history from its rows, computes the new
   own memories and writes the environment's new pool into its rows' new state
   (srmt/core.py), then the heads (`forward_tail`, sampled actions).
2. Env step. `advance_rollouts` saves the outputs at step t, steps the env
   (`SFBatchedEnv.step`) and sets `last_rnn_state = new_rnn_states * not_done`
   [pinned]: the rows of an environment whose episode ended are zeroed together
   (they are done on the same step), and an all-zero row is an episode start to
   the core (memory and history empty, `steps_seen` 0), in training as in
   evaluation. The next request stores it at step t + 1.
3. End of the rollout. After T steps the observations and state after the
   last step are stored at index T, and the N trajectories of T + 1 steps (rows
   in env order) go to the batcher.
4. Batcher. `_maybe_enqueue_new_training_batches` waits for
   `batch_size * num_batches_per_epoch / T` trajectories and copies whole
   slices of them, in order, into a training batch [pinned]: whole env objects
   when a batch holds at least one (train/checks.py checks that one divides
   the other).
5. Learner, bootstrap. `Learner._prepare_batch` (in train mode, under no_grad)
   calls `forward(obs[:, T], rnn_states[:, T], values_only=True)`:
   `step_core(learner=True)`, grouped unless memory `stored`, whose learner
   recomputes every row alone from the pool stored in it. Then GAE, and the
   batch is flattened [trajectory, step] [pinned]: row = (e*A + a)*T + t.
6. Learner, losses. `_get_minibatches` cuts contiguous minibatches (shuffle
   off for `rebuilt` / `learned`) [pinned] and `_calculate_losses` calls
   `forward_head`, `forward_core(head, rnn_states)` with every row's stored
   state, then `forward_tail`. `SRMTActorCritic.forward_core`: memory
   `stored`, every row alone from its stored state; `rebuilt` / `learned`, the
   rows reshaped to (E, A, T), `check_env_grouped` (all agents of an
   environment at the same `steps_seen`, else an error), and
   `srmt.rollout.unroll`: `rebuilt` pools each (environment, step) from the
   stored own memories in one grouped call; `learned` starts from the stored
   state at t = 0 and at each episode start and otherwise carries the core's
   new state from step to step, so gradients flow through memories and pools
   across time and agents. These need `sf.batch_size` a multiple of T x A and
   `sf.shuffle_minibatches` off (train/checks.py).
7. Back to acting. After the optimizer step (and the divergence check,
   adaptations.py) the learner publishes the new weights; `last_rnn_state`
   carried on from step 2, so memory flows on across rollouts within an
   episode and only an episode end zeroes it.

Which pass a call is follows from the entry point, never from train() /
eval() (in serial mode the inference worker and the learner share one model
object and toggle it): `forward` without `values_only` is acting (step 1),
`forward(..., values_only=True)` only the bootstrap (step 5), `forward_core`
only the losses (step 6). `pins.CALLERS` names the two learner call sites and
tests/test_train_bridge.py reads every call in sample-factory's source against
it. Rejected ways to tell them apart: the batch size, `torch.no_grad` (the
bootstrap runs under it), `self.training` (it held only because sample-factory
happens to switch modes before each use), a patch of the inference worker.

Tested (tests/test_train_model.py, tests/test_train_run.py,
tests/test_memory_modes.py): isolation (E environments in one batch act
exactly as each alone), replay (on a real serial synchronous run the first
minibatch of every iteration has PPO ratio 1 within 1e-5, in every memory
mode), reset (an all-zero row starts empty memory and history), and the
learner's recomputation equals the acting pass for every variant.
"""
