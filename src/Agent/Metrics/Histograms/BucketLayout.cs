namespace BpfAgent.Metrics.Histograms;

/// <summary>
/// A histogram's upper bounds and the bucket of a value: by the bits of the double for exp2 bounds
/// (min * 2^k), by a short search otherwise. Bucket i counts values in (bound[i-1], bound[i]]; the last one,
/// <see cref="Bounds"/>.Count, counts the rest (+Inf).
/// </summary>
public sealed class BucketLayout : IEquatable<BucketLayout>
{
    /// <summary>OpenTelemetry's default explicit bounds, used when a histogram names none.</summary>
    public static readonly IReadOnlyList<double> DefaultBounds = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

    private const long MantissaMask = (1L << 52) - 1;
    private readonly double[] _bounds;
    private readonly double _inverseMin; // 1 / bound[0] when the bounds are exp2, else 0

    public BucketLayout(IReadOnlyList<double> bounds)
    {
        if (bounds.Count == 0)
        {
            throw new ArgumentException("A histogram needs at least one bound.", nameof(bounds));
        }

        _bounds = [.. bounds];
        for (int i = 1; i < _bounds.Length; i++)
        {
            if (!(_bounds[i] > _bounds[i - 1]))
            {
                throw new ArgumentException("Bounds must be strictly ascending.", nameof(bounds));
            }
        }

        bool exp2 = _bounds.Length > 1 && _bounds[0] > 0;
        for (int i = 1; exp2 && i < _bounds.Length; i++)
        {
            exp2 = _bounds[i] == _bounds[i - 1] * 2;
        }

        _inverseMin = exp2 ? 1 / _bounds[0] : 0;
        Exp2 = new Exp2Index(_bounds[0], _inverseMin, [.. _bounds, double.PositiveInfinity], [double.NegativeInfinity, .. _bounds], _bounds.Length);
    }

    public IReadOnlyList<double> Bounds => _bounds;

    /// <summary>Buckets including +Inf.</summary>
    public int BucketCount => _bounds.Length + 1;

    public bool IsExp2 => _inverseMin != 0;

    /// <summary>The bucket of <paramref name="value"/> (NaN goes to +Inf).</summary>
    public int IndexOf(double value)
    {
        double[] bounds = _bounds;
        if (value <= bounds[0])
        {
            return 0;
        }

        return _inverseMin == 0 ? Search(bounds, value) : Exp2.Of(value);
    }

    /// <summary>The exp2 bucket index as a value a loop can keep in registers (only valid when <see cref="IsExp2"/>).</summary>
    public Exp2Index Exp2 { get; }

    /// <summary>
    /// The bucket of a value for exp2 bounds (min * 2^k) without a branch on the value (samples' values jump between
    /// buckets, so such a branch is mispredicted often). value / min lies in (2^(k-1), 2^k] for bucket k: k is the
    /// exponent, plus one unless the mantissa is 0; NaN and +Inf have the largest exponent and land on +Inf. The
    /// multiplication may round across a bound: the printed bounds decide, through Upper (bounds, then +Inf) and
    /// Lower (-Inf, then bounds).
    /// </summary>
    public readonly struct Exp2Index(double min, double inverseMin, double[] upper, double[] lower, int last)
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        public int Of(double value)
        {
            if (value <= min)
            {
                return 0;
            }

            long bits = BitConverter.DoubleToInt64Bits(value * inverseMin);
            int k = (int)((bits >> 52) & 0x7FF) - 1023 + ((bits & MantissaMask) != 0 ? 1 : 0);
            k &= ~(k >> 31); // at least 0
            int over = (last - k) >> 31; // all ones when k > last
            k = (k & ~over) | (last & over);
            k += value > upper[k] ? 1 : 0;
            k -= value <= lower[k] ? 1 : 0;
            return k;
        }
    }

    private static int Search(double[] bounds, double value)
    {
        if (bounds.Length <= 8)
        {
            int i = 0;
            while (i < bounds.Length && !(value <= bounds[i]))
            {
                i++;
            }

            return i;
        }

        int lo = 0;
        int hi = bounds.Length; // answer in [lo, hi]
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (value <= bounds[mid])
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        return lo;
    }

    public bool Equals(BucketLayout? other) => other is not null && _bounds.AsSpan().SequenceEqual(other._bounds);

    public override bool Equals(object? obj) => Equals(obj as BucketLayout);

    public override int GetHashCode() => HashCode.Combine(_bounds.Length, _bounds[0], _bounds[^1]);
}
