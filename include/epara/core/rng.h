/* Seeded random streams on GSL (docs/architecture.md, Conventions). Each consumer (arrivals, sizes,
 * each policy) owns one stream derived from (seed, stream id), so adding a consumer never shifts
 * the numbers another one draws. Same (seed, stream) -> same sequence on every platform. */
#ifndef EPARA_RNG_H
#define EPARA_RNG_H

#include "epara/core/common.h"

typedef struct ep_rng {
    void *impl_; /* private: gsl_rng * */
} ep_rng;

/* Well-known stream ids; any other uint64 works too. */
enum ep_rng_stream {
    EP_STREAM_ARRIVALS = 1,
    EP_STREAM_SIZES = 2,
    EP_STREAM_EXPAND = 3,
    EP_STREAM_JITTER = 4,
    EP_STREAM_ONOFF = 5,
    EP_STREAM_SERVICE = 6,
    EP_STREAM_POLICY = 16
};

/* Initializes *rng as stream `stream` of `seed` (MT19937 seeded from a SplitMix64 mix of
 * both). Returns 0 or EP_ENOMEM. Pair with ep_rng_fini. */
int ep_rng_init(ep_rng *rng, uint64_t seed, uint64_t stream);
void ep_rng_fini(ep_rng *rng);

/* Uniform in [0, 1). */
double ep_rng_uniform(ep_rng *rng);
/* Uniform in (0, 1). */
double ep_rng_uniform_pos(ep_rng *rng);
/* Uniform integer in [0, n); n >= 1 and n <= 2^32. */
uint64_t ep_rng_uniform_int(ep_rng *rng, uint64_t n);
/* Exponential with the given mean (> 0). */
double ep_rng_exponential(ep_rng *rng, double mean);
/* Gamma with shape k > 0 and scale theta > 0 (mean k * theta). */
double ep_rng_gamma(ep_rng *rng, double shape, double scale);
/* Lognormal: exp(N(mu, sigma^2)). */
double ep_rng_lognormal(ep_rng *rng, double mu, double sigma);
/* Normal with mean 0 and standard deviation sigma. */
double ep_rng_gaussian(ep_rng *rng, double sigma);
/* Poisson count with mean mu >= 0. */
unsigned ep_rng_poisson(ep_rng *rng, double mu);

/* SplitMix64 step, exposed for deriving seeds deterministically. */
uint64_t ep_splitmix64(uint64_t x);

#endif
