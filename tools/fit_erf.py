"""Prints the polynomial coefficients of src/cairn/core/kernels/cpu/vec_erf.h (pure Python, no packages).

Double pieces (vec_erf): erf(z) / z on z^2 = t in [0, 1] (degree 8 in t) and erfc(z) on z in [1, 4] (degree 16
in u = (z - 2.5) / 1.5). float32 pieces (the GELU): erf(z) / z on t in [0, 1] (degree 5) and the scaled
erfc(z) exp(z^2) on [0.5, 4] (degree 13 in u = (z - 2.25) / 1.75), smooth where erfc itself falls by 1e7. Each by Chebyshev
interpolation at 64 nodes, truncated and converted to monomials; then the maximum error of the pieces over a
fine grid.

    /usr/bin/python3 tools/fit_erf.py
"""
import math


def cheb_coeffs(f, a, b, n=64):
    xs = [math.cos(math.pi * (k + 0.5) / n) for k in range(n)]
    fx = [f((b - a) / 2 * x + (a + b) / 2) for x in xs]
    c = [2 / n * sum(fx[k] * math.cos(math.pi * j * (k + 0.5) / n) for k in range(n)) for j in range(n)]
    c[0] /= 2
    return c


def cheb_to_monomial(c):
    """Coefficients of sum c_k T_k(u) in powers of u."""
    t = [[1.0], [0.0, 1.0]]
    for k in range(2, len(c)):
        a = [0.0] + [2 * v for v in t[k - 1]]
        b = t[k - 2] + [0.0] * (len(a) - len(t[k - 2]))
        t.append([x - y for x, y in zip(a, b)])
    m = [0.0] * len(c)
    for k, ck in enumerate(c):
        for i, v in enumerate(t[k]):
            m[i] += ck * v
    return m


def horner(m, x):
    p = 0.0
    for c in reversed(m):
        p = p * x + c
    return p


def erf_ratio(t):
    z = math.sqrt(t)
    return math.erf(z) / z if z > 0 else 2 / math.sqrt(math.pi)


def ratio_poly(degree):
    """erf(sqrt t) / sqrt t in powers of t on [0, 1]."""
    in_u = cheb_to_monomial(cheb_coeffs(erf_ratio, 0.0, 1.0)[:degree + 1])  # u = 2t - 1
    small = [0.0] * len(in_u)
    for i, a in enumerate(in_u):  # substitute u = 2t - 1
        for k in range(i + 1):
            small[k] += a * math.comb(i, k) * 2 ** k * (-1) ** (i - k)
    return small


def scaled_erfc(z):
    return math.erfc(z) * math.exp(z * z)


def main():
    small = ratio_poly(8)
    large = cheb_to_monomial(cheb_coeffs(math.erfc, 1.0, 4.0)[:17])
    print("small_ratio (t^0 .. t^8):")
    for v in small:
        print(f"  {v:.17g}")
    print("large_erfc (u^0 .. u^16):")
    for v in large:
        print(f"  {v:.17g}")
    worst = 0.0
    for i in range(400001):
        z = 4.0 * i / 400000
        v = z * horner(small, z * z) if z < 1 else 1 - horner(large, (z - 2.5) / 1.5)
        worst = max(worst, abs(v - math.erf(z)))
    print(f"max |error| of erf on [0, 4] in double: {worst:.3g}")

    small_f = ratio_poly(5)
    scaled_f = cheb_to_monomial(cheb_coeffs(scaled_erfc, 0.5, 4.0)[:14])
    print("float: small_ratio_f (t^0 .. t^5):")
    for v in small_f:
        print(f"  {v:.9g}f")
    print("float: scaled_erfc_f (u^0 .. u^13):")
    for v in scaled_f:
        print(f"  {v:.9g}f")
    w_small = max(abs(horner(small_f, t) - erf_ratio(t)) / erf_ratio(t) for t in (i / 100000 for i in range(100001)))
    w_large = max(abs(horner(scaled_f, (z - 2.25) / 1.75) - scaled_erfc(z)) / scaled_erfc(z)
                  for z in (0.5 + 3.5 * i / 100000 for i in range(100001)))
    print(f"max relative error in exact arithmetic: small {w_small:.3g}, scaled erfc {w_large:.3g}")


if __name__ == "__main__":
    main()
