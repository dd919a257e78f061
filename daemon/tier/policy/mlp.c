/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Multilayer perceptron with ReLU hidden layers and a linear output,
 * backpropagation for one sample at a time, and Adam. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"

static int mlp_layout(Mlp *m, const unsigned *sizes, unsigned n_sizes) {
        size_t p = 0, a = 0;
        unsigned widest = 0;

        if (n_sizes < 2 || n_sizes > MLP_MAX_LAYERS + 1)
                return -EINVAL;
        for (unsigned i = 0; i < n_sizes; i++) {
                if (sizes[i] < 1 || sizes[i] > MLP_MAX_WIDTH)
                        return -EINVAL;
                m->sizes[i] = sizes[i];
                m->a_off[i] = a;
                a += sizes[i];
                if (sizes[i] > widest)
                        widest = sizes[i];
        }
        m->n_layers = n_sizes - 1;
        for (unsigned l = 0; l < m->n_layers; l++) {
                m->w_off[l] = p;
                p += (size_t) sizes[l + 1] * sizes[l] + sizes[l + 1];
        }
        m->n_params = p;
        m->n_units = a;
        m->params = calloc(p, sizeof(double));
        m->scratch = calloc(2 * (size_t) widest, sizeof(double));
        if (!m->params || !m->scratch)
                return -ENOMEM;
        return 0;
}

void mlp_free(Mlp *m) {
        if (!m)
                return;
        free(m->params);
        free(m->scratch);
        free(m);
}

int mlp_new(const unsigned *sizes, unsigned n_sizes, TierRng *rng, Mlp **ret) {
        _cleanup_(mlp_freep) Mlp *m = calloc(1, sizeof(Mlp));
        int r;

        if (!m)
                return -ENOMEM;
        r = mlp_layout(m, sizes, n_sizes);
        if (r < 0)
                return r;
        /* He initialisation suits ReLU: variance 2/fan_in keeps activations from fading. */
        for (unsigned l = 0; l < m->n_layers; l++) {
                double *w = m->params + m->w_off[l];
                size_t nw = (size_t) m->sizes[l + 1] * m->sizes[l];
                double sd = sqrt(2.0 / m->sizes[l]);

                for (size_t i = 0; i < nw; i++)
                        w[i] = sd * tier_rng_normal(rng);
        }
        *ret = TAKE_PTR(m);
        return 0;
}

const double *mlp_forward(const Mlp *m, const double *in, double *acts) {
        memcpy(acts, in, m->sizes[0] * sizeof(double));
        for (unsigned l = 0; l < m->n_layers; l++) {
                unsigned n_in = m->sizes[l], n_out = m->sizes[l + 1];
                const double *w = m->params + m->w_off[l], *b = w + (size_t) n_out * n_in;
                const double *x = acts + m->a_off[l];
                double *y = acts + m->a_off[l + 1];
                bool relu = l + 1 < m->n_layers;

                for (unsigned o = 0; o < n_out; o++) {
                        const double *row = w + (size_t) o * n_in;
                        double s = b[o];

                        for (unsigned i = 0; i < n_in; i++)
                                s += row[i] * x[i];
                        y[o] = relu && s < 0 ? 0 : s;
                }
        }
        return acts + m->a_off[m->n_layers];
}

void mlp_backward(Mlp *m, const double *acts, const double *dout, double *grad) {
        unsigned widest = 0;
        double *delta, *prev;

        for (unsigned i = 0; i <= m->n_layers; i++)
                if (m->sizes[i] > widest)
                        widest = m->sizes[i];
        delta = m->scratch;
        prev = m->scratch + widest;
        memcpy(delta, dout, m->sizes[m->n_layers] * sizeof(double));

        for (unsigned l = m->n_layers; l-- > 0;) {
                unsigned n_in = m->sizes[l], n_out = m->sizes[l + 1];
                const double *w = m->params + m->w_off[l], *x = acts + m->a_off[l];
                double *gw = grad + m->w_off[l], *gb = gw + (size_t) n_out * n_in, *t;

                for (unsigned o = 0; o < n_out; o++) {
                        double d = delta[o];

                        if (d == 0)
                                continue;
                        for (unsigned i = 0; i < n_in; i++)
                                gw[(size_t) o * n_in + i] += d * x[i];
                        gb[o] += d;
                }
                if (l == 0)
                        break;
                /* Through the ReLU of layer l: its output x is > 0 exactly where it passed. */
                for (unsigned i = 0; i < n_in; i++) {
                        double s = 0;

                        if (x[i] > 0)
                                for (unsigned o = 0; o < n_out; o++)
                                        s += w[(size_t) o * n_in + i] * delta[o];
                        prev[i] = s;
                }
                t = delta;
                delta = prev;
                prev = t;
        }
}

/* Adds v to o under key, consuming v; returns -ENOMEM when either step failed. */
static int add_owned(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

json_object *mlp_to_json(const Mlp *m) {
        json_object *o = json_object_new_object(), *sizes = json_object_new_array();

        if (!o || !sizes)
                goto fail;
        for (unsigned i = 0; i <= m->n_layers; i++)
                if (json_object_array_add(sizes, json_object_new_int((int) m->sizes[i])) < 0)
                        goto fail;
        if (add_owned(o, "sizes", TAKE_PTR(sizes)) < 0 ||
            add_owned(o, "params", tier_json_doubles(m->params, m->n_params)) < 0)
                goto fail;
        return o;
fail:
        json_object_put(sizes);
        json_object_put(o);
        return NULL;
}

int mlp_from_json(json_object *j, Mlp **ret) {
        _cleanup_(mlp_freep) Mlp *m = NULL;
        unsigned sizes[MLP_MAX_LAYERS + 1];
        json_object *js, *jp;
        size_t n;
        int r;

        if (!json_object_object_get_ex(j, "sizes", &js) || !json_object_object_get_ex(j, "params", &jp) ||
            !json_object_is_type(js, json_type_array))
                return -EINVAL;
        n = json_object_array_length(js);
        if (n < 2 || n > MLP_MAX_LAYERS + 1)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(js, i);
                int64_t v = json_object_get_int64(e);

                if (!json_object_is_type(e, json_type_int) || v < 1 || v > MLP_MAX_WIDTH)
                        return -EINVAL;
                sizes[i] = (unsigned) v;
        }
        m = calloc(1, sizeof(Mlp));
        if (!m)
                return -ENOMEM;
        r = mlp_layout(m, sizes, (unsigned) n);
        if (r < 0)
                return r;
        r = tier_json_doubles_parse(jp, m->params, m->n_params);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

void mlp_adam_free(MlpAdam *a) {
        if (!a)
                return;
        free(a->m);
        free(a->v);
        free(a);
}

int mlp_adam_new(size_t n, double lr, MlpAdam **ret) {
        _cleanup_(mlp_adam_freep) MlpAdam *a = NULL;

        if (n == 0 || !isfinite(lr) || lr <= 0)
                return -EINVAL;
        a = calloc(1, sizeof(MlpAdam));
        if (!a)
                return -ENOMEM;
        *a = (MlpAdam) { .lr = lr, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .n = n };
        a->m = calloc(n, sizeof(double));
        a->v = calloc(n, sizeof(double));
        if (!a->m || !a->v)
                return -ENOMEM;
        *ret = TAKE_PTR(a);
        return 0;
}

void mlp_adam_step(MlpAdam *a, double *params, const double *grad) {
        double c1, c2;

        a->t++;
        c1 = 1.0 - pow(a->beta1, (double) a->t);
        c2 = 1.0 - pow(a->beta2, (double) a->t);
        for (size_t i = 0; i < a->n; i++) {
                double g = grad[i];

                a->m[i] = a->beta1 * a->m[i] + (1 - a->beta1) * g;
                a->v[i] = a->beta2 * a->v[i] + (1 - a->beta2) * g * g;
                params[i] -= a->lr * (a->m[i] / c1) / (sqrt(a->v[i] / c2) + a->eps);
        }
}

json_object *mlp_adam_to_json(const MlpAdam *a) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (add_owned(o, "lr", json_object_new_double(a->lr)) < 0 ||
            add_owned(o, "t", json_object_new_int64((int64_t) a->t)) < 0 ||
            add_owned(o, "m", tier_json_doubles(a->m, a->n)) < 0 ||
            add_owned(o, "v", tier_json_doubles(a->v, a->n)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

int mlp_adam_from_json(json_object *j, size_t n, MlpAdam **ret) {
        _cleanup_(mlp_adam_freep) MlpAdam *a = NULL;
        json_object *jlr, *jt, *jm, *jv;
        int r;

        if (!json_object_object_get_ex(j, "lr", &jlr) || !json_object_object_get_ex(j, "t", &jt) ||
            !json_object_object_get_ex(j, "m", &jm) || !json_object_object_get_ex(j, "v", &jv) ||
            !json_object_is_type(jt, json_type_int) || json_object_get_int64(jt) < 0)
                return -EINVAL;
        r = mlp_adam_new(n, json_object_get_double(jlr), &a);
        if (r < 0)
                return r;
        a->t = (uint64_t) json_object_get_int64(jt);
        r = tier_json_doubles_parse(jm, a->m, n);
        if (r < 0)
                return r;
        r = tier_json_doubles_parse(jv, a->v, n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (a->v[i] < 0)
                        return -EINVAL;
        *ret = TAKE_PTR(a);
        return 0;
}
