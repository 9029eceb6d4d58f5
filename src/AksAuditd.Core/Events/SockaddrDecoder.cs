using System.Buffers;
using System.Runtime.CompilerServices;
using static AksAuditd.Core.Events.HexDigits;
using static AksAuditd.Core.Events.ValueFormats;

namespace AksAuditd.Core.Events;

/// <summary>
/// saddr= values: the hex dump of a struct sockaddr, shown as ausearch shows it (family, then the path of a unix
/// socket, the address and port of an IPv4 or IPv6 one, the port id of a netlink one).
/// </summary>
internal static class SockaddrDecoder
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Append(ValueBuilder output, ReadOnlySpan<byte> value)
    {
        var digits = LeadingHexDigits(value);
        if (digits < 2)
        {
            output.Append("malformed-host(").Append(value).Append(')');
            return;
        }

        // Decoded into a zeroed buffer at least as large as any sockaddr ausearch reads, like its own copy.
        var length = value.Length / 2;
        var rented = ArrayPool<byte>.Shared.Rent(Math.Max(length, 128));
        try
        {
            var address = rented.AsSpan(0, Math.Max(length, 128));
            address.Clear();
            for (var i = 0; i < digits; i += 2)
            {
                address[i / 2] = (byte)((HexValue(value[i]) << 4) | (i + 1 < digits ? HexValue(value[i + 1]) : 0));
            }

            var family = address[0] | (address[1] << 8);
            if (!Families.TryGetValue(family, out var familyName))
            {
                output.Append("unknown-family(").Append(family).Append(')');
                return;
            }

            output.Append("{ saddr_fam=").Append(familyName);
            switch (family)
            {
                case 1:
                    if (length < 4)
                    {
                        output.Append(" sockaddr len too short }");
                        break;
                    }

                    // An abstract name starts with a NUL byte, which is skipped.
                    var path = address.Slice(address[2] != 0 ? 2 : 3, 108);
                    var end = path.IndexOf((byte)0);
                    output.Append(" path=").Append(end < 0 ? path : path[..end]).Append(" }");
                    break;
                case 2:
                    if (length < 16)
                    {
                        output.Append(" sockaddr len too short }");
                        break;
                    }

                    output.Append(" laddr=").Append((int)address[4]).Append('.').Append((int)address[5]).Append('.').Append((int)address[6]).Append('.').Append((int)address[7])
                        .Append(" lport=").Append((address[2] << 8) | address[3]).Append(" }");
                    break;
                case 10:
                    if (length < 28)
                    {
                        output.Append(" sockaddr6 len too short }");
                        break;
                    }

                    output.Append(" laddr=");
                    AppendIPv6(output, address.Slice(8, 16));
                    output.Append(" lport=").Append((address[2] << 8) | address[3]).Append(" }");
                    break;
                case 16:
                    if (length < 12)
                    {
                        output.Append(" len too short }");
                        break;
                    }

                    output.Append(" nlnk-fam=").Append(family).Append(" nlnk-pid=")
                        .Append(BitConverter.ToUInt32(address.Slice(4, 4))).Append(" }");
                    break;
                default:
                    output.Append(" (unsupported) }");
                    break;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>inet_ntop(3) for IPv6: the longest run of two or more zero groups becomes ::, and an IPv4-mapped or -compatible address ends in dotted decimal.</summary>
    private static void AppendIPv6(ValueBuilder output, ReadOnlySpan<byte> address)
    {
        Span<int> words = stackalloc int[8];
        for (var i = 0; i < 8; i++)
        {
            words[i] = (address[2 * i] << 8) | address[2 * i + 1];
        }

        int bestBase = -1, bestLength = 0, currentBase = -1, currentLength = 0;
        for (var i = 0; i < 8; i++)
        {
            if (words[i] == 0)
            {
                if (currentBase < 0)
                {
                    currentBase = i;
                    currentLength = 1;
                }
                else
                {
                    currentLength++;
                }
            }
            else if (currentBase >= 0)
            {
                if (bestBase < 0 || currentLength > bestLength)
                {
                    (bestBase, bestLength) = (currentBase, currentLength);
                }

                currentBase = -1;
            }
        }

        if (currentBase >= 0 && (bestBase < 0 || currentLength > bestLength))
        {
            (bestBase, bestLength) = (currentBase, currentLength);
        }

        if (bestBase >= 0 && bestLength < 2)
        {
            bestBase = -1;
        }

        for (var i = 0; i < 8; i++)
        {
            if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLength)
            {
                if (i == bestBase)
                {
                    output.Append(':');
                }

                continue;
            }

            if (i != 0)
            {
                output.Append(':');
            }

            if (i == 6 && bestBase == 0 && (bestLength == 6 || (bestLength == 5 && words[5] == 0xffff)))
            {
                output.Append((int)address[12]).Append('.').Append((int)address[13]).Append('.').Append((int)address[14]).Append('.').Append((int)address[15]);
                return;
            }

            output.AppendHex((uint)words[i]);
        }

        if (bestBase >= 0 && bestBase + bestLength == 8)
        {
            output.Append(':');
        }
    }
}
