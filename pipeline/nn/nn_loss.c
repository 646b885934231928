/* nn_loss — the training loss (see nn_train.h): softmax cross-entropy and its gradient. */
#include "nn_kern.h"

#include <math.h>

double nn_softmax_xent(int n, int k, const float *logits, const int *labels, float scale, float *dlogits)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k;
        float mx = z[0];
        for (int j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
        double s = exp((double)z[0] - mx); /* >= the max's term 1 after the loop, so log(s) >= 0 */
        for (int j = 1; j < k; j++) s += exp((double)z[j] - mx);
        /* -log p[label] = log sum exp(z - max) - (z[label] - max) */
        total += log(s) - ((double)z[labels[i]] - mx);
        if (dlogits) {
            float *d = dlogits + (size_t)i * k;
            for (int j = 0; j < k; j++) {
                double p = exp((double)z[j] - mx) / s;
                d[j] = (float)(scale * (p - (j == labels[i])));
            }
        }
    }
    return total;
}
