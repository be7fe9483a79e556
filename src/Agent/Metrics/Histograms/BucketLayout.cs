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
    private readonly double[] _upper; // bucket i's upper bound, +Inf for the last (and one more, for i + 1)
    private readonly double[] _lower; // bucket i's lower bound (exclusive), -Inf for the first

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
        _upper = [.. _bounds, double.PositiveInfinity, double.PositiveInfinity];
        _lower = [double.NegativeInfinity, .. _bounds, double.PositiveInfinity];
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

        if (_inverseMin == 0)
        {
            return Search(bounds, value);
        }

        // value / min lies in (2^(k-1), 2^k] for bucket k: k is the exponent, plus one unless the mantissa is 0. NaN
        // and +Inf have the largest exponent and land on +Inf. Without branches on the value (samples' values jump
        // between buckets, so a branch on them is mispredicted often): the multiplication may round across a bound,
        // and the printed bounds decide, through _upper (bounds, then +Inf) and _lower (-Inf, then bounds).
        long bits = BitConverter.DoubleToInt64Bits(value * _inverseMin);
        int k = (int)((bits >> 52) & 0x7FF) - 1023 + ((bits & MantissaMask) != 0 ? 1 : 0);
        int i = Math.Min(Math.Max(k, 0), bounds.Length);
        i += value > _upper[i] ? 1 : 0;
        i -= value <= _lower[i] ? 1 : 0;
        return i;
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
