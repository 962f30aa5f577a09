/** The CDK app: reads the configuration, composes the stack, attaches cdk-nag. */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readDeploymentConfig } from '../lib/config.js';
import { DocProcStack } from '../lib/docproc-stack.js';

const app = new App();
const config = readDeploymentConfig((key) => app.node.tryGetContext(key));
new DocProcStack(app, String(app.node.tryGetContext('stackName') ?? 'DocProc'), {
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
