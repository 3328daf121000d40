// {{name}}: a Stance detector plugin. One rule on CloudTrail events: the
// root user did something itself (not an AWS service acting for it).

import { alert, defineDetector, Severity } from "stance-sdk";

export const detectorPlugin = defineDetector({
  name: "{{name}}",
  version: "0.1.0",
  description: "Alerts on activity of the AWS root user",
  rules: [
    {
      id: "{{name}}-root-activity",
      title: "The root user was used",
      description: "Day-to-day work should never need the root user; each use deserves a look.",
      severity: Severity.High,
      sources: ["aws_cloudtrail"],
      remediation: "Confirm who used the root credentials; enable MFA on root and remove its access keys.",
      onEvent(event) {
        if (event.fieldString("userIdentity.type") !== "Root") return undefined;
        // Services acting for the account (invokedBy) are not a person at the keyboard.
        if (event.fieldString("userIdentity.invokedBy") !== undefined) return undefined;
        const name = event.fieldString("eventName") ?? "an action";
        const ip = event.fieldString("sourceIPAddress") ?? "an unknown address";
        return alert(`root called ${name} from ${ip}`)
          .withField(event, "userIdentity.type", "!= 'Root'")
          .withField(event, "eventName", "context of the matched event");
      },
    },
  ],
});
