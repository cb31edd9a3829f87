import type { EmulatorAdmin, TimelineSecond } from "../emulator/index.ts";
import type { MetricSample, MetricSource } from "./get-metric-data.ts";

/**
 * The Custom Labels emulator's unit metrics, as the model would publish them
 * to CloudWatch: namespace AWS/Rekognition, dimensions exactly ProjectName
 * and VersionName, one sample per second the model's session was active
 * (from its timeline). `InServiceInferenceUnits` is the units its billing
 * meter counts, since AWS's guide finds the billed inference hours from that
 * metric; with `billFrom: "start-request"` that includes STARTING, and it
 * always includes STOPPING. Any other metric or dimension set has no data.
 */
const PICK: Record<string, (second: TimelineSecond) => number | undefined> = {
  InServiceInferenceUnits: (s) => s.billedUnits ?? s.inServiceUnits,
  DesiredInferenceUnits: (s) => s.desiredUnits,
  MinInferenceUnits: (s) => s.minUnits,
  MaxInferenceUnits: (s) => s.maxUnits,
};

export function emulatorMetricSource(admin: EmulatorAdmin): MetricSource {
  return (query) => {
    const pick = PICK[query.metricName];
    const names = Object.keys(query.dimensions).sort();
    if (
      !pick ||
      query.namespace !== "AWS/Rekognition" ||
      names.join(",") !== "ProjectName,VersionName"
    ) {
      return [];
    }
    const model = admin
      .state()
      .models.find(
        (m) =>
          m.project === query.dimensions.ProjectName && m.version === query.dimensions.VersionName,
      );
    if (!model) return [];
    const samples: MetricSample[] = [];
    for (const second of admin.timeline(model.arn)) {
      const value = pick(second);
      if (value !== undefined) samples.push({ t: second.t, value });
    }
    return samples;
  };
}
