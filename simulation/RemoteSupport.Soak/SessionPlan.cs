namespace RemoteSupport.Soak;

/// <summary>What a technician does in a soak session.</summary>
internal enum SoakOperation
{
    View,
    Change,
    List,
    Work,
    PushFix,
    Revoke,
}

/// <summary>One step: the operation, how the customer's approver answers if asked, and a number the step uses.</summary>
internal sealed record SoakStep(SoakOperation Operation, SoakApprover.Answer Answer, int Value);

/// <summary>
/// One session of a soak run, drawn from the run's seed and the session's index alone: the same seed plans the same
/// sessions (what the faults then hit still depends on timing).
/// </summary>
internal sealed record SessionPlan(int Index, ConnectionFault Fault, IReadOnlyList<SoakStep> Steps, bool Close, int DelaySeed)
{
    public static SessionPlan Draw(int seed, int index, double faultRate)
    {
        var random = new Random(unchecked((seed * 1_000_003) + index));
        ConnectionFault fault = ConnectionFault.Draw(random, faultRate);
        var steps = new List<SoakStep>();
        int count = 1 + random.Next(6);
        bool revoked = false;
        for (int i = 0; i < count; i++)
        {
            int pick = random.Next(100);
            SoakOperation operation = pick switch
            {
                < 25 => SoakOperation.View,
                < 45 => SoakOperation.Change,
                < 50 => SoakOperation.List,
                < 75 => SoakOperation.Work,
                < 93 => SoakOperation.PushFix,
                _ => revoked ? SoakOperation.Work : SoakOperation.Revoke,
            };
            revoked |= operation == SoakOperation.Revoke;
            int answer = random.Next(100);
            steps.Add(new SoakStep(operation, answer < 70 ? SoakApprover.Answer.Approve : answer < 85 ? SoakApprover.Answer.Refuse : SoakApprover.Answer.Never, 1 + random.Next(3)));
        }

        return new SessionPlan(index, fault, steps, Close: random.Next(5) != 0, DelaySeed: random.Next());
    }

    public override string ToString() =>
        $"session {Index}: {Fault}; {string.Join(", ", Steps.Select(s => s.Operation is SoakOperation.Work ? $"work-{s.Value}" : $"{s.Operation}({s.Answer})"))}; " +
        (Close ? "closed" : "abandoned");
}
