using System.Security.Cryptography;
using System.Text;
using AksAuditd.Core.Sync;
using Xunit;

namespace AksAuditd.Core.Tests.Sync;

public sealed class ContentHashTests
{
    [Theory]
    // FIPS 180-4 examples (NIST CSRC), and the empty message.
    [InlineData("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")]
    public void KnownMessagesHaveTheirPublishedDigests(string message, string digest)
    {
        Assert.Equal(digest, ContentHash.Sha256Hex(Encoding.ASCII.GetBytes(message)));
    }

    [Fact]
    public void AMillionBytesHaveTheirPublishedDigest()
    {
        var million = Enumerable.Repeat((byte)'a', 1_000_000).ToArray();

        Assert.Equal("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", ContentHash.Sha256Hex(million));
    }

    [Fact]
    public void EveryLengthAroundTheBlockBoundariesMatchesTheRuntimesSha256()
    {
        // The padding has three cases (room for the length in the last block, not, and an exact block): every
        // length up to five blocks covers each of them several times.
        var random = new Random(20261129);
        for (var length = 0; length <= 5 * 64 + 1; length++)
        {
            var data = new byte[length];
            random.NextBytes(data);

            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), ContentHash.Sha256Hex(data));
        }
    }

    [Fact]
    public void ALargeFileMatchesTheRuntimesSha256()
    {
        var data = new byte[3 * 1024 * 1024 + 17];
        new Random(6).NextBytes(data);

        Assert.Equal(SHA256.HashData(data), ContentHash.Sha256(data));
    }
}
