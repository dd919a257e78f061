/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A tiny multilayer perceptron (ReLU hidden layers, linear output) with
 * backpropagation and the Adam optimiser: just enough for INDIGO's Q-network.
 * Doubles throughout; the networks are a few thousand weights. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "tier.h"

#define MLP_MAX_LAYERS 4 /* weight layers */
#define MLP_MAX_WIDTH 1024

typedef struct Mlp {
        unsigned n_layers;                  /* weight layers; sizes has n_layers + 1 entries */
        unsigned sizes[MLP_MAX_LAYERS + 1]; /* units per layer, input first */
        size_t n_params;
        double *params;                   /* per layer: W (out x in, row-major), then b (out) */
        size_t w_off[MLP_MAX_LAYERS];     /* where layer l's W starts in params */
        size_t a_off[MLP_MAX_LAYERS + 1]; /* where layer l's activations start in a workspace */
        size_t n_units;                   /* size of an activation workspace */
        double *scratch;                  /* 2 x widest layer, for backward */
} Mlp;

/* Builds a network with layer sizes sizes[0..n_sizes) (2..MLP_MAX_LAYERS+1 entries, each
 * 1..MLP_MAX_WIDTH), He-initialised weights from rng, zero biases. Returns 0, -EINVAL or -ENOMEM. */
int mlp_new(const unsigned *sizes, unsigned n_sizes, TierRng *rng, Mlp **ret);
void mlp_free(Mlp *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Mlp *, mlp_free);

/* Forward pass of one input. acts is a workspace of m->n_units doubles that keeps every layer's
 * activations for mlp_backward; returns a pointer to the output layer inside it. */
const double *mlp_forward(const Mlp *m, const double *in, double *acts);

/* Adds d(loss)/d(params) to grad (m->n_params doubles) for the sample whose forward pass left
 * acts, given dout = d(loss)/d(output). */
void mlp_backward(Mlp *m, const double *acts, const double *dout, double *grad);

/* {"sizes":[...],"params":[...]}; NULL on OOM. */
json_object *mlp_to_json(const Mlp *m);
/* Returns 0, -EINVAL (shape or values invalid) or -ENOMEM. */
int mlp_from_json(json_object *j, Mlp **ret);

typedef struct MlpAdam {
        double lr, beta1, beta2, eps;
        uint64_t t; /* steps taken */
        size_t n;
        double *m, *v;
} MlpAdam;

/* Adam for n parameters with the usual defaults (beta1 0.9, beta2 0.999, eps 1e-8).
 * Returns 0, -EINVAL (n == 0, lr not finite and > 0) or -ENOMEM. */
int mlp_adam_new(size_t n, double lr, MlpAdam **ret);
void mlp_adam_free(MlpAdam *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(MlpAdam *, mlp_adam_free);
/* One step: params -= lr * m_hat / (sqrt(v_hat) + eps). */
void mlp_adam_step(MlpAdam *a, double *params, const double *grad);
json_object *mlp_adam_to_json(const MlpAdam *a);
/* Restores the state of an optimiser for n parameters. Returns 0, -EINVAL or -ENOMEM. */
int mlp_adam_from_json(json_object *j, size_t n, MlpAdam **ret);
