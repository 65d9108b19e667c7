/* Random streams: one GSL MT19937 generator per (seed, stream) pair, seeded through
 * SplitMix64 so neighbouring seeds and streams give unrelated sequences. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "epara/core/error.h"
#include "epara/core/rng.h"

uint64_t
ep_splitmix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

int
ep_rng_init(ep_rng *rng, uint64_t seed, uint64_t stream)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return EP_ENOMEM;
    uint64_t mixed = ep_splitmix64(seed ^ ep_splitmix64(stream + UINT64_C(0x5851f42d4c957f2d)));
    /* MT19937 in GSL uses the low 32 bits of the seed; fold the high half in. GSL maps
     * seed 0 to its default seed, so avoid 0 to keep streams distinct. */
    unsigned long s = (unsigned long)((mixed ^ (mixed >> 32)) & 0xffffffffu);
    gsl_rng_set(r, s ? s : 0x9e3779b9u);
    rng->impl_ = r;
    return 0;
}

void
ep_rng_fini(ep_rng *rng)
{
    if (rng->impl_)
        gsl_rng_free(rng->impl_);
    rng->impl_ = NULL;
}

double
ep_rng_uniform(ep_rng *rng)
{
    return gsl_rng_uniform(rng->impl_);
}

double
ep_rng_uniform_pos(ep_rng *rng)
{
    return gsl_rng_uniform_pos(rng->impl_);
}

uint64_t
ep_rng_uniform_int(ep_rng *rng, uint64_t n)
{
    EP_ASSERT(n >= 1 && n <= UINT64_C(0x100000000));
    /* gsl_rng_uniform_int refuses n above the generator's max (2^32 - 1 for MT19937) and
     * aborts; a raw MT19937 word is already uniform on [0, 2^32). */
    if (n == UINT64_C(0x100000000))
        return gsl_rng_get(rng->impl_) - gsl_rng_min(rng->impl_);
    return gsl_rng_uniform_int(rng->impl_, (unsigned long)n);
}

double
ep_rng_exponential(ep_rng *rng, double mean)
{
    return gsl_ran_exponential(rng->impl_, mean);
}

double
ep_rng_gamma(ep_rng *rng, double shape, double scale)
{
    return gsl_ran_gamma(rng->impl_, shape, scale);
}

double
ep_rng_lognormal(ep_rng *rng, double mu, double sigma)
{
    return gsl_ran_lognormal(rng->impl_, mu, sigma);
}

double
ep_rng_gaussian(ep_rng *rng, double sigma)
{
    return gsl_ran_gaussian_ziggurat(rng->impl_, sigma);
}

unsigned
ep_rng_poisson(ep_rng *rng, double mu)
{
    return gsl_ran_poisson(rng->impl_, mu);
}
