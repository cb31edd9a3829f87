import { resourceInUse, resourceNotFound } from "./api-error.ts";
import {
  type ModelEnvironment,
  ModelVersion,
  type ModelVersionIdentity,
  type VersionStatus,
} from "./model-version.ts";
import type { ModelDeclaration, ModelFeature } from "./settings.ts";

export interface ProjectRecord {
  name: string;
  arn: string;
  createdAt: number;
  versions: Map<string, ModelVersion>;
}

/** The ARNs of a declared model version. */
export interface DeclaredModel {
  projectArn: string;
  projectVersionArn: string;
}

/** Projects and their model versions, looked up by name or ARN. */
export class ModelRegistry {
  private readonly projects = new Map<string, ProjectRecord>();
  private readonly versionsByArn = new Map<string, ModelVersion>();
  private sequence = 0;

  constructor(private readonly env: ModelEnvironment) {}

  /** CreateProject; a second project of the same name is a ResourceInUseException. */
  createProject(name: string, createdAt = this.env.clock.now()): ProjectRecord {
    if (this.projects.has(name)) throw resourceInUse(`Project ${name} already exists.`);
    const { region, accountId } = this.env.settings;
    const project: ProjectRecord = {
      name,
      arn: `arn:aws:rekognition:${region}:${accountId}:project/${name}/${this.digits(createdAt)}`,
      createdAt,
      versions: new Map(),
    };
    this.projects.set(name, project);
    return project;
  }

  projectList(): ProjectRecord[] {
    return [...this.projects.values()];
  }

  projectByArn(arn: string): ProjectRecord {
    const project = [...this.projects.values()].find((candidate) => candidate.arn === arn);
    if (!project) throw resourceNotFound(arn);
    return project;
  }

  /** CreateProjectVersion: registers a ready-trained version (TRAINING_COMPLETED). */
  createVersion(
    project: ProjectRecord,
    versionName: string,
    feature: ModelFeature,
    extra: Pick<ModelVersionIdentity, "outputConfig" | "versionDescription"> = {},
    status: VersionStatus = "TRAINING_COMPLETED",
    createdAt = this.env.clock.now(),
  ): ModelVersion {
    if (project.versions.has(versionName)) {
      throw resourceInUse(`Version ${versionName} of project ${project.name} already exists.`);
    }
    const identity: ModelVersionIdentity = {
      arn: `${project.arn.replace(/\/\d+$/, "")}/version/${versionName}/${this.digits(createdAt)}`,
      projectArn: project.arn,
      project: project.name,
      version: versionName,
      feature,
      createdAt,
      ...extra,
    };
    const version = new ModelVersion(identity, this.env, status);
    project.versions.set(versionName, version);
    this.versionsByArn.set(identity.arn, version);
    return version;
  }

  version(arn: string): ModelVersion {
    const version = this.versionsByArn.get(arn);
    if (!version) throw resourceNotFound(arn);
    return version;
  }

  versions(): ModelVersion[] {
    return [...this.versionsByArn.values()];
  }

  /**
   * Makes a model version exist without API calls. Declaring the same
   * project/version again returns the same ARNs and changes nothing.
   */
  declare(declaration: ModelDeclaration): DeclaredModel {
    const project =
      this.projects.get(declaration.project) ??
      this.createProject(declaration.project, declaration.createdAt);
    const existing = project.versions.get(declaration.version);
    if (existing) return { projectArn: project.arn, projectVersionArn: existing.arn };
    const status = declaration.status ?? "TRAINING_COMPLETED";
    const version = this.createVersion(
      project,
      declaration.version,
      declaration.feature ?? "CLASSIFICATION",
      { outputConfig: { S3Bucket: "emulator-declared", S3KeyPrefix: `${declaration.project}/` } },
      status === "RUNNING" ? "TRAINING_COMPLETED" : status,
      declaration.createdAt,
    );
    if (status === "RUNNING") {
      version.startRunningNow(declaration.minInferenceUnits ?? 1, declaration.maxInferenceUnits);
    }
    return { projectArn: project.arn, projectVersionArn: version.arn };
  }

  /** Cancels every model's timers and forgets everything. */
  clear(): void {
    for (const version of this.versionsByArn.values()) version.dispose();
    this.versionsByArn.clear();
    this.projects.clear();
  }

  /**
   * The trailing digits of an ARN: the creation time in ms, made unique when
   * several resources are created within the same millisecond.
   */
  private digits(createdAt: number): string {
    this.sequence = Math.max(this.sequence + 1, Math.floor(createdAt));
    return String(this.sequence);
  }
}
