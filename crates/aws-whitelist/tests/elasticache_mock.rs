//! The ElastiCache path with aws-smithy-mocks: moto's describe_cache_clusters does not
//! return SecurityGroups, so the resolution is tested against a mocked client instead.

use aws_sdk_elasticache::operation::describe_cache_clusters::DescribeCacheClustersOutput;
use aws_sdk_elasticache::types::{CacheCluster, SecurityGroupMembership};
use aws_smithy_mocks::{mock, mock_client};
use aws_whitelist::client::Clients;
use aws_whitelist::client::model::Target;

#[tokio::test]
async fn elasticache_clusters_resolve_to_their_groups() {
    let rule = mock!(aws_sdk_elasticache::Client::describe_cache_clusters)
        .match_requests(|r| r.cache_cluster_id() == Some("sessions"))
        .then_output(|| {
            DescribeCacheClustersOutput::builder()
                .cache_clusters(
                    CacheCluster::builder()
                        .cache_cluster_id("sessions")
                        .security_groups(
                            SecurityGroupMembership::builder()
                                .security_group_id("sg-0aaaaaaaaaaaaaaa1")
                                .status("active")
                                .build(),
                        )
                        .security_groups(
                            SecurityGroupMembership::builder()
                                .security_group_id("sg-0bbbbbbbbbbbbbbb2")
                                .status("active")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let elasticache = mock_client!(aws_sdk_elasticache, [&rule]);
    // The other clients are never called on this path.
    let conf = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let clients = Clients {
        region: "us-east-1".into(),
        profile: None,
        ec2: aws_sdk_ec2::Client::new(&conf),
        rds: aws_sdk_rds::Client::new(&conf),
        elasticache,
        elb: aws_sdk_elasticloadbalancingv2::Client::new(&conf),
        sts: aws_sdk_sts::Client::new(&conf),
        assumed: None,
    };
    let groups = clients
        .resolve(&Target::ElastiCache("sessions".into()))
        .await
        .expect("resolved");
    assert_eq!(groups, vec!["sg-0aaaaaaaaaaaaaaa1", "sg-0bbbbbbbbbbbbbbb2"]);
    assert_eq!(rule.num_calls(), 1);
}
