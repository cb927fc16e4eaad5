/* adam.h -- Adam with bias correction (Kingma & Ba), decoupled weight decay (AdamW, Loshchilov & Hutter) and
 * global-norm clipping, over flat parameter arrays (the encoder's and the projector's). The paper: beta1 0.9,
 * beta2 0.95, constant learning rate 3e-4.
 *
 * One step t (1-based), for every element, with g = grad * grad_scale:
 *     m = beta1 m + (1 - beta1) g
 *     v = beta2 v + (1 - beta2) g^2
 *     p = p - lr * wd * p                                        (decoupled decay; skipped when wd == 0)
 *     p = p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 * as torch.optim.AdamW computes it. Clipping (torch.nn.utils.clip_grad_norm_): with the global norm
 * N = sqrt(sum of g^2 over every array), grad_scale = max_norm / (N + 1e-6) when N > max_norm, else 1. */
#ifndef FRZ_TRAIN_ADAM_H
#define FRZ_TRAIN_ADAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct frz_adam_hp {
    float lr, beta1, beta2, eps, weight_decay;
} frz_adam_hp;

/* One step over n elements: param, m and v (n) are updated in place, grad (n) is read. */
void frz_adam_update(float *param, const float *grad, float *m, float *v, size_t n, const frz_adam_hp *hp,
                     int64_t t, float grad_scale, int n_threads);

/* Sum of squares of g (n) in double. The sum is taken in fixed chunks whatever the thread count, so the result
 * does not depend on n_threads. */
double frz_sum_squares(const float *g, size_t n, int n_threads);

/* The clipping factor for a global norm (see above); 1 when max_norm <= 0. */
float frz_clip_scale(double global_norm, float max_norm);

#endif
