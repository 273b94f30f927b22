using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Threading.Channels;
using EdgeGateway.Mqtt.Protocol;

namespace EdgeGateway.Mqtt;

public sealed partial class MqttClient
{
    /// <summary>
    /// One network connection: a send loop (the only writer of the socket; it batches control packets and
    /// PUBLISHes into one flush), a receive loop (decodes, completes PUBACKs), and a keep-alive/ack watchdog.
    /// Owns the stream; <see cref="Fail"/> closes it exactly once and hands unacked messages back to the client.
    /// </summary>
    private sealed class Connection(MqttClient client, Stream stream, PipeReader reader, PipeWriter writer, long connectedAt)
    {
        private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
        });

        private readonly ConcurrentQueue<ControlPacket> _control = new();
        private readonly CancellationTokenSource _cts = new();
        private int _closed;
        private readonly long _connectedAt = connectedAt;
        private long _lastSent = connectedAt;
        private long _lastReceived = connectedAt;
        private long _lastAckProgress = connectedAt;
        private long _pingSentAt;
        private int _pingOutstanding;

        public TaskCompletionSource<MqttDisconnectInfo?> Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes on the first PUBACK of this connection: the link demonstrably works end to end.</summary>
        public TaskCompletionSource FirstAcknowledgement { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TimeSpan KeepAlive { get; set; }

        public bool IsOpen => Volatile.Read(ref _closed) == 0;

        public void Start()
        {
            _ = Task.Run(SendLoopAsync);
            _ = Task.Run(ReadLoopAsync);
            _ = Task.Run(WatchdogLoopAsync);
        }

        public void Wake() => _wake.Writer.TryWrite(true);

        public void EnqueueControl(ControlPacket packet)
        {
            _control.Enqueue(packet);
            Wake();
        }

        private async Task SendLoopAsync()
        {
            var ct = _cts.Token;
            var qos0 = new List<OutgoingMessage>();
            var dead = new List<(OutgoingMessage Message, DeadLetterReason Reason, string Detail)>();
            var version = client._options.ProtocolVersion;
            try
            {
                while (!ct.IsCancellationRequested)
                {
                    var wrote = false;
                    var disconnect = false;
                    byte disconnectCode = 0;
                    while (_control.TryDequeue(out var cp))
                    {
                        switch (cp.Kind)
                        {
                            case ControlPubAck:
                                writer.Advance(MqttEncoder.WritePubAck(writer.GetSpan(4), cp.Id));
                                break;
                            case ControlPingReq:
                                writer.Advance(MqttEncoder.WritePingReq(writer.GetSpan(2)));
                                break;
                            case ControlBytes:
                                writer.Write(cp.Bytes);
                                break;
                            case ControlDisconnect:
                                disconnectCode = (byte)cp.Id;
                                writer.Advance(MqttEncoder.WriteDisconnect(writer.GetSpan(3), version, disconnectCode));
                                disconnect = true;
                                break;
                        }

                        wrote = true;
                        if (disconnect)
                        {
                            break;
                        }
                    }

                    if (!disconnect)
                    {
                        wrote |= FillPublishes(qos0, dead);
                    }

                    foreach (var (m, reason, detail) in dead)
                    {
                        m.Complete(client.DeadLetter(m.Topic, m.Payload, reason, 0, detail));
                    }

                    var hadDead = dead.Count > 0;
                    dead.Clear();
                    if (wrote)
                    {
                        var flush = await writer.FlushAsync(ct).ConfigureAwait(false);
                        Volatile.Write(ref _lastSent, client._time.GetTimestamp());
                        foreach (var m in qos0)
                        {
                            m.Complete(new PublishResult(PublishStatus.Sent));
                        }

                        qos0.Clear();
                        if (disconnect)
                        {
                            Fail(DisconnectKind.Local, disconnectCode, "DISCONNECT sent");
                            return;
                        }

                        if (flush.IsCompleted)
                        {
                            Fail(DisconnectKind.ConnectionLost, 0, "the connection was closed while sending");
                            return;
                        }

                        continue;
                    }

                    if (hadDead)
                    {
                        continue;
                    }

                    // No token here: a cancellable wait allocates a waiter per call; Fail completes the channel instead.
                    if (!await _wake.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
                    {
                        break;
                    }

                    _wake.Reader.TryRead(out _);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Fail(DisconnectKind.ConnectionLost, 0, $"send failed: {e.Message}", peerReset: IsPeerReset(e));
            }
            finally
            {
                foreach (var m in qos0)
                {
                    m.Complete(new PublishResult(PublishStatus.NotConnected));
                }

                await writer.CompleteAsync().ConfigureAwait(false);
            }
        }

        /// <summary>Moves queued messages into the window (ids drawn now, at transmit time) and encodes them.</summary>
        private bool FillPublishes(List<OutgoingMessage> qos0, List<(OutgoingMessage, DeadLetterReason, string)> dead)
        {
            var wrote = false;
            var version = client._options.ProtocolVersion;
            lock (client._sync)
            {
                var budget = 256 * 1024;
                var probing = client.IsProbingPoisonSuspect();
                while (budget > 0 && client._queue.First is { } m)
                {
                    var qos1 = m.Qos == MqttQualityOfService.AtLeastOnce;
                    if (qos1 && client._inflight.Count >= client._window)
                    {
                        break;
                    }

                    if (probing && (client._inflight.Count > 0 || qos0.Count > 0))
                    {
                        // Poison guard: after one suspicious drop the suspect goes out alone (window 1, nothing
                        // behind it) until it is acknowledged or dead-lettered, so a further drop can only be its doing.
                        break;
                    }

                    var size = MqttEncoder.PublishSize(version, m.TopicBytes, m.Payload.Length, m.Qos, m.UserPropertiesSize);
                    var refusal = size > client._options.MaximumOutgoingPacketSize
                        ? $"{size} bytes exceed MaximumOutgoingPacketSize {client._options.MaximumOutgoingPacketSize}"
                        : client._serverMaxPacket > 0 && size > client._serverMaxPacket
                            ? $"{size} bytes exceed the server's Maximum Packet Size {client._serverMaxPacket}"
                            : null;
                    if (refusal is not null || (m.Retain && !client._retainAvailable) || (byte)m.Qos > client._serverMaxQos)
                    {
                        // Poison (rule 7): sending it would only earn DISCONNECT 0x95 and a resend loop. Above the
                        // server's Maximum QoS or with RETAIN it does not support, the client must not send it at all
                        // ([MQTT-3.2.2-11], [MQTT-3.2.2-14]); silently downgrading would break at-least-once.
                        client._queue.Remove(m);
                        if (m.PacketId != 0)
                        {
                            client._ids.Release(m.PacketId);
                            m.PacketId = 0;
                        }

                        if (ReferenceEquals(client._poisonSuspect, m))
                        {
                            client._poisonSuspect = null;
                        }

                        dead.Add(refusal is not null ? (m, DeadLetterReason.PacketTooLarge, refusal)
                            : m.Retain && !client._retainAvailable ? (m, DeadLetterReason.NotSupportedByServer, "the server does not support RETAIN")
                            : (m, DeadLetterReason.NotSupportedByServer, $"QoS {(byte)m.Qos} exceeds the server's Maximum QoS {client._serverMaxQos}"));
                        continue;
                    }

                    if (qos1)
                    {
                        if (m.PacketId == 0)
                        {
                            if (!client._ids.TryAllocate(out var id))
                            {
                                break;
                            }

                            m.PacketId = id;
                        }

                        client._queue.Remove(m);
                        if (client._inflight.Count == 0)
                        {
                            Volatile.Write(ref _lastAckProgress, client._time.GetTimestamp());
                        }

                        client._inflight.AddLast(m);
                        client._byId[m.PacketId] = m;
                        if (client._inflight.Count > client._maxObservedInflight)
                        {
                            client._maxObservedInflight = client._inflight.Count;
                        }
                    }
                    else
                    {
                        client._queue.Remove(m);
                        qos0.Add(m);
                    }

                    m.SentAt = client._time.GetTimestamp();
                    MqttEncoder.WritePublish(writer, version, m.Topic, m.TopicBytes, m.Payload.Span, m.Qos, m.Retain, m.Dup,
                        m.PacketId, m.UserProperties, m.UserPropertiesSize);
                    budget -= (int)Math.Min(size, int.MaxValue);
                    wrote = true;
                }
            }

            return wrote;
        }

        private async Task ReadLoopAsync()
        {
            var ct = _cts.Token;
            var version = client._options.ProtocolVersion;
            try
            {
                while (true)
                {
                    var read = await reader.ReadAsync(ct).ConfigureAwait(false);
                    var buffer = read.Buffer;
                    Volatile.Write(ref _lastReceived, client._time.GetTimestamp());
                    Volatile.Write(ref _pingOutstanding, 0); // any inbound packet is proof of life
                    while (true)
                    {
                        var status = MqttDecoder.TryDecode(ref buffer, version, client._options.MaximumPacketSize, out var packet, out var error);
                        if (status == DecodeStatus.Incomplete)
                        {
                            break;
                        }

                        if (status == DecodeStatus.Error)
                        {
                            reader.AdvanceTo(buffer.Start);
                            Fail(DisconnectKind.ProtocolViolation, 0, $"malformed packet from the server: {error}");
                            return;
                        }

                        if (packet.Type == MqttPacketType.Publish)
                        {
                            await HandleIncomingPublishAsync(packet, ct).ConfigureAwait(false);
                        }
                        else if (!Handle(in packet))
                        {
                            reader.AdvanceTo(buffer.Start);
                            return;
                        }
                    }

                    reader.AdvanceTo(buffer.Start, buffer.End);
                    if (read.IsCompleted)
                    {
                        // A clean end of stream: the only drop that counts as the server hanging up on us (poison
                        // guard, suspected takeover). Resets and local errors land in the catch below.
                        Fail(DisconnectKind.ConnectionLost, 0, "the server closed the connection", serverClosed: true);
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Fail(DisconnectKind.ConnectionLost, 0, $"receive failed: {e.Message}", peerReset: IsPeerReset(e));
            }
            finally
            {
                await reader.CompleteAsync().ConfigureAwait(false);
            }
        }

        /// <summary>
        /// A TCP reset from the far end (ECONNRESET). mosquitto refuses an oversize 3.1.1 PUBLISH by closing the socket
        /// with the rest of the packet unread, which the kernel turns into a reset, so the poison guard must count it; the
        /// suspected takeover does not (mosquitto closes a taken-over connection cleanly). Other socket errors (network
        /// unreachable, timed out, ...) are local and count for neither.
        /// </summary>
        private static bool IsPeerReset(Exception e)
        {
            for (Exception? x = e; x is not null; x = x.InnerException)
            {
                if (x is System.Net.Sockets.SocketException se)
                {
                    return se.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionReset;
                }

                if (x is System.Net.WebSockets.WebSocketException { WebSocketErrorCode: System.Net.WebSockets.WebSocketError.ConnectionClosedPrematurely })
                {
                    // Over WebSocket the server hanging up without a close frame is what a reset is over TCP.
                    return true;
                }
            }

            return false;
        }

        /// <summary>Handles one non-PUBLISH packet; false when the connection ended.</summary>
        private bool Handle(in ReceivedPacket packet)
        {
            switch (packet.Type)
            {
                case MqttPacketType.PubAck:
                    OnPubAck(packet.PacketId, packet.ReasonCode, packet.Properties?.ReasonString);
                    return true;
                case MqttPacketType.SubAck:
                    TaskCompletionSource<byte[]>? tcs;
                    lock (client._sync)
                    {
                        if (client._pendingSubscribes.Remove(packet.PacketId, out tcs))
                        {
                            client._ids.Release(packet.PacketId);
                        }
                    }

                    tcs?.TrySetResult(packet.ReasonCodes ?? []);
                    return true;
                case MqttPacketType.PingResp:
                    return true;
                case MqttPacketType.Disconnect:
                    var culprit = packet.ReasonCode == MqttReasonCodes.PacketTooLarge ? TakeLargestInflight() : null;
                    if (culprit is not null)
                    {
                        // 0x95: the server will never take it; resending it would loop forever (rule 7, A6). Completed
                        // BEFORE Fail raises Disconnected: a sink rewinds on that event, and a dead-letter result that
                        // arrives after the rewind would be thrown away and the record resent forever.
                        culprit.Complete(client.DeadLetter(culprit.Topic, culprit.Payload, DeadLetterReason.PacketTooLarge,
                            MqttReasonCodes.PacketTooLarge, "the server answered DISCONNECT 0x95 (packet too large)"));
                    }

                    Fail(DisconnectKind.ServerDisconnect, packet.ReasonCode, packet.Properties?.ReasonString ?? "");
                    return false;
                case MqttPacketType.ConnAck:
                    Fail(DisconnectKind.ProtocolViolation, 0, "a second CONNACK");
                    return false;
                default:
                    // PUBREC/PUBREL/PUBCOMP/UNSUBACK: we never start those flows.
                    Log.UnexpectedPacket(client._logger, packet.Type, packet.PacketId);
                    return true;
            }
        }

        /// <summary>
        /// After DISCONNECT 0x95 the culprit is not named; the largest message in flight (the oldest of equals: the
        /// server handles PUBLISHes in order) is the one that can have been too large. Removed from the window.
        /// </summary>
        private OutgoingMessage? TakeLargestInflight()
        {
            var version = client._options.ProtocolVersion;
            lock (client._sync)
            {
                if (Volatile.Read(ref _closed) != 0)
                {
                    // A late packet from a read loop whose connection already ended: the window now belongs to the
                    // next connection (Fail takes the lock after setting _closed, so checking here is enough).
                    return null;
                }

                OutgoingMessage? largest = null;
                long largestSize = -1;
                for (var m = client._inflight.First; m is not null; m = m.Next)
                {
                    var size = MqttEncoder.PublishSize(version, m.TopicBytes, m.Payload.Length, m.Qos, m.UserPropertiesSize);
                    if (size > largestSize)
                    {
                        largest = m;
                        largestSize = size;
                    }
                }

                if (largest is not null)
                {
                    RemoveInflight(largest);
                }

                return largest;
            }
        }

        private void RemoveInflight(OutgoingMessage m)
        {
            client._inflight.Remove(m);
            client._byId[m.PacketId] = null;
            client._ids.Release(m.PacketId);
            m.PacketId = 0;
        }

        private void OnPubAck(ushort id, byte reasonCode, string? reasonString)
        {
            OutgoingMessage? m;
            bool wake;
            lock (client._sync)
            {
                m = client._byId[id];
                if (m is null)
                {
                    wake = false;
                }
                else
                {
                    client._byId[id] = null;
                    client._inflight.Remove(m);
                    client._ids.Release(id);
                    m.PacketId = 0;
                    if (ReferenceEquals(client._poisonSuspect, m))
                    {
                        client._poisonSuspect = null; // acknowledged: not poison; the full window again
                    }

                    Volatile.Write(ref _lastAckProgress, client._time.GetTimestamp());
                    wake = client._queue.First is not null;
                }
            }

            if (m is null)
            {
                // [MQTT-2.3.1-6]: never let it acknowledge some other message.
                Log.UnknownPubAck(client._logger, id);
                return;
            }

            if (wake)
            {
                Wake();
            }

            FirstAcknowledgement.TrySetResult();
            if (client._options.ProtocolVersion == MqttProtocolVersion.V500 && reasonCode >= 0x80)
            {
                // [MQTT-4.4.0-2]: acknowledged, must not be retransmitted; quarantined, never dropped.
                m.Complete(client.DeadLetter(m.Topic, m.Payload, DeadLetterReason.RejectedByServer, reasonCode,
                    reasonString ?? MqttReasonCodes.Describe(reasonCode)));
                return;
            }

            MqttMetrics.Acknowledged.Add(1, client._clientTag);
            m.Complete(new PublishResult(PublishStatus.Acknowledged, reasonCode));
        }

        private async ValueTask HandleIncomingPublishAsync(ReceivedPacket packet, CancellationToken ct)
        {
            if (packet.Qos > MqttQualityOfService.AtLeastOnce)
            {
                Fail(DisconnectKind.ProtocolViolation, 0, "QoS 2 PUBLISH received; this client subscribes with QoS <= 1 only");
                return;
            }

            if (client.MessageReceived is { } handler)
            {
                try
                {
                    await handler(new MqttApplicationMessage(packet.Topic!, packet.Payload, packet.Qos, packet.Retain,
                        (IReadOnlyList<MqttUserProperty>?)packet.Properties?.UserProperties ?? []), ct).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    // [MQTT-4.5.0-2]: acknowledged even when the application fails on it.
                    Log.HandlerFailed(client._logger, "MessageReceived", e);
                }
            }

            if (packet.Qos == MqttQualityOfService.AtLeastOnce)
            {
                EnqueueControl(new ControlPacket(ControlPubAck, packet.PacketId, null));
            }
        }

        private async Task WatchdogLoopAsync()
        {
            var ct = _cts.Token;
            var o = client._options;
            var keepAlive = KeepAlive;
            var shortest = new[] { keepAlive > TimeSpan.Zero ? keepAlive : TimeSpan.MaxValue, o.PingTimeout, o.AckTimeout }.Min();
            var tick = TimeSpan.FromMilliseconds(Math.Clamp(shortest.TotalMilliseconds / 4, 50, 1000));
            try
            {
                while (!ct.IsCancellationRequested)
                {
                    await Task.Delay(tick, client._time, ct).ConfigureAwait(false);
                    var time = client._time;
                    if (Volatile.Read(ref _pingOutstanding) == 1)
                    {
                        if (time.GetElapsedTime(Volatile.Read(ref _pingSentAt)) > o.PingTimeout)
                        {
                            Fail(DisconnectKind.KeepAliveTimeout, 0, $"no PINGRESP or other packet within {o.PingTimeout} after PINGREQ");
                            return;
                        }
                    }
                    else if (keepAlive > TimeSpan.Zero)
                    {
                        // Ping when nothing was sent OR nothing was received for 3/4 of keep alive: a busy publisher on a
                        // silent link must still notice (rule 8, MQTTnet#2244).
                        var threshold = keepAlive * 0.75;
                        if (time.GetElapsedTime(Volatile.Read(ref _lastSent)) >= threshold
                            || time.GetElapsedTime(Volatile.Read(ref _lastReceived)) >= threshold)
                        {
                            Volatile.Write(ref _pingSentAt, time.GetTimestamp());
                            Volatile.Write(ref _pingOutstanding, 1);
                            EnqueueControl(new ControlPacket(ControlPingReq, 0, null));
                        }
                    }

                    int inflight;
                    lock (client._sync)
                    {
                        inflight = client._inflight.Count;
                    }

                    if (inflight > 0 && time.GetElapsedTime(Volatile.Read(ref _lastAckProgress)) > o.AckTimeout)
                    {
                        // 5.0 forbids resending on a live connection: reconnect instead ([MQTT-4.4.0-1]).
                        Fail(DisconnectKind.AckTimeout, 0, $"{inflight} message(s) in flight and no PUBACK within {o.AckTimeout}");
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Log.LoopFailed(client._logger, "watchdog", e);
                Fail(DisconnectKind.ConnectionLost, 0, $"watchdog failed: {e.Message}");
            }
        }

        /// <summary>
        /// Poison guard (rule 7; 3.1.1 only, where a broker can refuse a message only by closing the connection - a 5.0
        /// broker says why with PUBACK >= 0x80 or DISCONNECT). Only the server hanging up counts - a clean end of stream or
        /// a TCP reset from the far end (what mosquitto's max_packet_size produces, see IsPeerReset) - within
        /// <see cref="MqttClientOptions.PingTimeout"/> after the oldest unacked message was sent; local network errors
        /// neither count nor clear; timeouts and DISCONNECTs clear. The first such drop makes that message the suspect, which the next
        /// connection sends alone (see FillPublishes); further drops count only while it was the only message in
        /// flight. <see cref="MqttClientOptions.PoisonDropLimit"/> drops in all take it out. Under the lock.
        /// </summary>
        private OutgoingMessage? CheckPoison(DisconnectKind kind, bool serverHungUp, out int drops)
        {
            drops = 0;
            var limit = client._options.PoisonDropLimit;
            if (limit == 0 || client._options.ProtocolVersion != MqttProtocolVersion.V311)
            {
                client._poisonSuspect = null;
                return null;
            }

            if (kind == DisconnectKind.ConnectionLost && !serverHungUp)
            {
                // A local network error: says nothing about the message either way.
                return null;
            }

            var head = client._inflight.First;
            if (kind != DisconnectKind.ConnectionLost || head is null
                || client._time.GetElapsedTime(head.SentAt) > client._options.PingTimeout)
            {
                client._poisonSuspect = null;
                return null;
            }

            if (client.IsProbingPoisonSuspect() && ReferenceEquals(client._poisonSuspect, head))
            {
                if (client._inflight.Count != 1)
                {
                    drops = head.Drops; // not alone (cannot happen while probing): no evidence either way
                    return null;
                }

                head.Drops++;
            }
            else
            {
                client._poisonSuspect = head;
                client._poisonSuspectVersion = head.Version;
                head.Drops = 1;
            }

            drops = head.Drops;
            if (drops < limit)
            {
                return null;
            }

            client._poisonSuspect = null;
            RemoveInflight(head);
            return head;
        }

        /// <summary>Ends the connection once: closes the stream, returns unacked messages to the queue front.</summary>
        public void Fail(DisconnectKind kind, byte reasonCode, string detail, bool serverClosed = false, bool peerReset = false)
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }

            _cts.Cancel();
            _wake.Writer.TryComplete();
            try
            {
                stream.Dispose();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // Closing a broken stream may throw; it is closed either way.
            }

            List<OutgoingMessage> notSent = [];
            List<TaskCompletionSource<byte[]>> subscribes = [];
            OutgoingMessage? poison = null;
            int poisonDrops = 0;
            lock (client._sync)
            {
                poison = CheckPoison(kind, serverClosed || peerReset, out poisonDrops);
                for (var m = client._inflight.First; m is not null; m = m.Next)
                {
                    client._byId[m.PacketId] = null; // the id stays allocated until the next CONNACK decides
                }

                client._queue.PrependAll(client._inflight);
                for (var m = client._queue.First; m is not null;)
                {
                    var next = m.Next;
                    if (m.Qos == MqttQualityOfService.AtMostOnce)
                    {
                        client._queue.Remove(m);
                        notSent.Add(m);
                    }

                    m = next;
                }

                foreach (var (id, tcs) in client._pendingSubscribes)
                {
                    client._ids.Release(id);
                    subscribes.Add(tcs);
                }

                client._pendingSubscribes.Clear();
                if (ReferenceEquals(client._connection, this))
                {
                    Volatile.Write(ref client._connection, null);
                }
            }

            if (poison is not null)
            {
                // Completed first, before the Disconnected state change below (a sink rewinds on it; see 0x95).
                poison.Complete(client.DeadLetter(poison.Topic, poison.Payload, DeadLetterReason.ConnectionDropped, 0,
                    $"rejected by the broker: the server closed the connection right after it was sent {poisonDrops} times in a row"));
            }

            foreach (var m in notSent)
            {
                m.Complete(new PublishResult(PublishStatus.NotConnected));
            }

            foreach (var tcs in subscribes)
            {
                tcs.TrySetResult([]);
            }

            var info = new MqttDisconnectInfo(kind, reasonCode, detail, client._time.GetElapsedTime(_connectedAt), poisonDrops >= 2,
                serverClosed && kind == DisconnectKind.ConnectionLost);
            MqttMetrics.Connected.Add(-1, client._clientTag);
            MqttMetrics.Disconnects.Add(1, client._clientTag, new KeyValuePair<string, object?>("kind", kind.ToString()));
            if (kind == DisconnectKind.Local)
            {
                Log.DisconnectedLocally(client._logger, detail);
            }
            else
            {
                var seconds = info.ConnectedFor.TotalSeconds;
                Log.ConnectionLost(client._logger, info.ToString(), seconds);
            }

            client.RaiseStateChanged(new MqttConnectionStateChange(MqttConnectionState.Disconnected, false, info));
            Closed.TrySetResult(info);
        }
    }
}
